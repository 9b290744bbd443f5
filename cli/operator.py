"""The operator's commands: run the service and set it up step by step.

``ecert serve``, ``ecert init``, ``ecert keys …`` (anchor and signing keys),
``ecert admin department|venue|citizen|key|device|operator-key …`` (departments with their
API key shown once, venues, citizens one by one or from CSV, API key rotation and
revocation, a citizen's devices listed or removed: a lost phone reported at a counter,
the operators' keys of the ``/admin`` dashboard),
``ecert bundle export`` and ``ecert trust-list export`` (written whole, mode 0600),
``ecert audit verify|export`` (the audit chain: checked, or a period exported for the
regulator), ``ecert derived refresh`` (the age and residence attestations brought up to
date: daily), and ``ecert demo``. Everything ``serve --demo`` seeds can be done one step
at a time here.

Spellings removed in favour of one way each, kept hidden for one release with a
deprecation line on stderr: ``ecert issuer add|list`` (now ``ecert admin department
add|list``), ``ecert admin export bundle|trust-list`` (now ``ecert bundle export`` and
``ecert trust-list export``) and ``ecert keys compromise KID`` (now ``ecert keys
compromise ISSUER KID``; the old form still does the same, with the deprecation line).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import json
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    EXIT_USAGE,
    UsageError,
    deprecated,
    open_ecert,
    print_json,
    settings_of,
    write_file,
)
from cli.jobs import run_with_progress
from keys import EcertError, KeyState
from service.instance import Ecert

__all__ = ["add_bundle_commands", "add_commands"]


# -- serve --------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the HTTP service under gunicorn (``--demo`` seeds demo data first)."""
    from gunicorn.app.base import BaseApplication

    settings = settings_of(args)
    base_url = settings.base_url or f"http://{args.host}:{args.port}"
    settings = settings.override(base_url=base_url)
    import api.logging  # also binds ``api``: the app factory, for the workers
    from api.services import job_runner

    # Opening may migrate an old instance to pseudonyms first: show its progress lines.
    api.logging.configure_logging(settings.log_level)
    with Ecert.open(settings) as ecert:
        if ecert.platform.base_url != base_url.rstrip("/"):
            print(
                f"note: this instance's base URL is {ecert.platform.base_url} (kept from "
                "its first use; issuer ids and status list URLs are built from it)",
                file=sys.stderr,
            )
        if args.demo:
            from cli.seed import seed_demo

            logins = seed_demo(ecert, ecert.accounts)
            _print_demo(logins, ecert)

    options = {
        "bind": f"{args.host}:{args.port}",
        "workers": args.workers,
        "threads": args.threads,
        "accesslog": None,  # the app logs one line per request, without personal data
        "timeout": 30,
    }

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            app = api.create_app(settings)  # the settings read once, by main
            # Each worker runs jobs: its own, and any a crashed worker left (lease over).
            job_runner(app).start()
            return app

    Server().run()
    return EXIT_OK


def _print_demo(logins: Any, ecert: Ecert) -> None:
    base = logins["base_url"]
    lines = [
        f"ecert demo at {base}  (logins saved in {ecert.path / 'demo.json'})",
        f"  citizen wallet:  {base}/wallet     venue scanner: {base}/scan",
        f"  OpenAPI:         {base}/openapi.json",
        "  citizens (POST /api/v1/auth/login):",
    ]
    lines += [f"    {c['citizen_id']}  password {c['password']}" for c in logins["citizens"]]
    lines.append("  departments (Authorization: Bearer <key>):")
    lines += [f"    {d['issuer']:<14} {d['api_key']}" for d in logins["departments"]]
    lines.append("  venues (Authorization: Bearer <key>):")
    lines += [f"    {v['id']:<14} {v['api_key']}  scenes {v['scenes']}" for v in logins["venues"]]
    lines.append(f"  operators ({base}/admin):")
    lines += [f"    {o['name']:<14} {o['api_key']}" for o in logins.get("operators", [])]
    print("\n".join(lines), file=sys.stderr)


# -- the instance and its keys ------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """Create the instance and its trust anchor."""
    with open_ecert(args) as ecert:
        anchor = ecert.platform.ensure_anchor()
        print(f"instance: {ecert.path.resolve()}", file=sys.stderr)
        print(f"base URL: {ecert.platform.base_url}", file=sys.stderr)
        print(f"trust anchor kid: {anchor.kid}", file=sys.stderr)
    return EXIT_OK


def cmd_keys_anchor(args: argparse.Namespace) -> int:
    """Print (and optionally write) the anchor's public JWK, creating the anchor if needed."""
    with open_ecert(args) as ecert:
        jwk = ecert.platform.ensure_anchor().public_jwk()
    if args.output:
        write_file(args.output, json.dumps(jwk, indent=2) + "\n")
    print_json(jwk)
    return EXIT_OK


def cmd_keys_list(args: argparse.Namespace) -> int:
    """List keys (public parts, states and rotation times only; a time of 0 is not set)."""
    with open_ecert(args) as ecert:
        if args.owner is None:
            records = ecert.store.list_keys()
        else:
            owner = "anchor" if args.owner == "anchor" else ecert.platform.issuer(args.owner).iss
            records = ecert.store.list_keys(owner)
        print_json(
            [
                {
                    "kid": r.kid,
                    "owner": r.owner,
                    "alg": r.alg,
                    "state": r.state,
                    "created_at": r.created_at,
                    "activate_at": r.activate_at,
                    "retired_at": r.retired_at,
                    "verify_until": r.verify_until,
                }
                for r in records
            ]
        )
    return EXIT_OK


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Create a pending key: published at once, signing from the end of the lead time.

    For an issuer the new key becomes active by itself after ``--lead`` seconds (default
    and minimum: the trust list's refresh interval, its ``ttl``, so that offline
    verifiers learn it before they meet it; a shorter lead needs ``--force``); the old
    active key is then retired and keeps verifying until what it signed expires. The
    anchor's new key waits for ``ecert keys activate`` (verifiers pin the anchor).
    """
    with open_ecert(args) as ecert:
        if args.owner == "anchor":
            if args.lead is not None:
                raise UsageError("the anchor's key is activated by hand: no --lead")
            key = ecert.keyring.create("anchor", alg=args.alg, state=KeyState.PENDING)
            print(key.kid)
            return EXIT_OK
        owner = ecert.platform.issuer(args.owner).iss
        record = ecert.keyring.rotate(owner, lead=args.lead, force=args.force, alg=args.alg)
        print(record.kid)
        when = datetime.datetime.fromtimestamp(record.activate_at, datetime.UTC)
        print(f"pending; becomes active at {when:%Y-%m-%dT%H:%M:%SZ}", file=sys.stderr)
    return EXIT_OK


def cmd_keys_compromise(args: argparse.Namespace) -> int:
    """Report a key compromised: listed in ``revoked_kids`` at once, so every credential
    it signed fails with ``key_compromised``; if it was the issuer's active key, another
    key is active at once (its pending key, else a new one). Then a re-issue job gives
    every citizen holding a valid credential of that key a fresh one under the new key,
    on every device, with a notice: its id is printed, and it runs here with a progress
    bar (interrupted, ``ecert jobs run`` or the service finishes it). Credentials held
    outside the service are skipped and listed by ``ecert jobs show``. Publish a bundle
    after."""
    if len(args.ids) > 2:
        raise UsageError("usage: ecert keys compromise ISSUER KID")
    if len(args.ids) == 1:
        print(
            "ecert: 'ecert keys compromise KID' is deprecated and will be removed in the "
            "next release; use 'ecert keys compromise ISSUER KID'",
            file=sys.stderr,
        )
    kid = args.ids[-1]
    with open_ecert(args) as ecert:
        record = ecert.store.get_key(kid)
        if len(args.ids) == 2:
            slug = args.ids[0]
            owner = "anchor" if slug == "anchor" else ecert.platform.issuer(slug).iss
            if record is not None and record.owner != owner:
                raise UsageError(f"key {kid} is not a key of {slug}")
        reported = ecert.compromise.report(kid)
        print(f"{kid}: compromised", file=sys.stderr)
        if reported.replacement is not None:
            print(f"{reported.replacement}: active (replaces it)", file=sys.stderr)
        if reported.job is None:
            return EXIT_OK
        print(reported.job.id, flush=True)
        ended = run_with_progress(ecert.jobs, reported.job, quiet=args.quiet)
        job = ended or ecert.jobs.get(reported.job.id) or reported.job
        print(
            f"re-issue job {job.id}: {job.state}; {job.done} re-issued, {job.skipped} "
            f"skipped, {job.failed} failed of {job.total}",
            file=sys.stderr,
        )
        outside = ecert.compromise.skipped_ids(job)
        if outside:
            print(
                f"{len(outside)} held outside the service (contact their holders; "
                f"'ecert jobs show {job.id}' lists them)",
                file=sys.stderr,
            )
    return EXIT_OK if job.failed == 0 else EXIT_FAIL


def _set_state(state: KeyState) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        with open_ecert(args) as ecert:
            ecert.keyring.set_state(args.kid, state)
            print(f"{args.kid}: {state.value}", file=sys.stderr)
        return EXIT_OK

    run.__doc__ = f"Move a key to the {state.value} state."
    return run


# -- departments, venues, citizens, API keys ----------------------------------------------


def cmd_department_add(args: argparse.Namespace) -> int:
    """Register a department with the credential types it may issue; its signing key is
    generated and its API key shown once."""
    with open_ecert(args) as ecert:
        ecert.platform.ensure_anchor()
        record = ecert.platform.register_issuer(
            args.slug, name_zh=args.zh, name_en=args.en, vcts=args.vct, alg=args.alg
        )
        key, secret = ecert.accounts.issue_api_key("department", record.iss)
        print_json(
            {
                "issuer": record.slug,
                "iss": record.iss,
                "vcts": list(record.vcts),
                "key_id": key.key_id,
                "api_key": secret,
            }
        )
    print("the API key is shown once; only its hash is stored", file=sys.stderr)
    return EXIT_OK


def cmd_department_list(args: argparse.Namespace) -> int:
    """List registered departments."""
    with open_ecert(args) as ecert:
        print_json(
            [
                {
                    "iss": r.iss,
                    "slug": r.slug,
                    "name": {"zh": r.name_zh, "en": r.name_en},
                    "vcts": list(r.vcts),
                }
                for r in ecert.store.list_issuers()
            ]
        )
    return EXIT_OK


def cmd_venue_add(args: argparse.Namespace) -> int:
    """Register a venue with the scenes its staff may verify; its API key is shown once."""
    from store.interface import VenueRecord

    with open_ecert(args) as ecert:
        known = {s["id"] for s in ecert.platform.scenes()}
        unknown = sorted(set(args.scene) - known)
        if unknown:
            print(f"ecert: unknown scenes {unknown}; known: {sorted(known)}", file=sys.stderr)
            return EXIT_USAGE
        ecert.store.put_venue(VenueRecord(args.id, args.zh, args.en, tuple(args.scene), 0))
        key, secret = ecert.accounts.issue_api_key("venue", args.id)
        print_json({"id": args.id, "scenes": args.scene, "key_id": key.key_id, "api_key": secret})
    print("the API key is shown once; only its hash is stored", file=sys.stderr)
    return EXIT_OK


def cmd_citizen_add(args: argparse.Namespace) -> int:
    """Create a citizen; the password is read from stdin, or generated and shown once."""
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    shown = password is None and not args.no_password
    if shown:
        password = secrets.token_urlsafe(12)
    with open_ecert(args) as ecert:
        ecert.accounts.create_citizen(args.citizen_id, None if args.no_password else password)
    print_json({"citizen_id": args.citizen_id, **({"password": password} if shown else {})})
    return EXIT_OK


def cmd_citizen_import(args: argparse.Namespace) -> int:
    """Create citizens from a CSV file with a header ``citizen_id[,password]``.

    Rows without a password get none (identity-provider login only). Existing
    citizens are skipped, bad rows reported by line; the import goes on.
    """
    try:
        with open(args.file, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        print(f"ecert: cannot read {args.file}: {err}", file=sys.stderr)
        return EXIT_USAGE
    created = skipped = failed = 0
    with open_ecert(args) as ecert:
        for line, row in enumerate(rows, start=2):
            citizen_id = (row.get("citizen_id") or "").strip()
            password = (row.get("password") or "").strip() or None
            try:
                ecert.accounts.create_citizen(citizen_id, password)
                created += 1
            except EcertError as err:
                if err.code == "conflict":
                    skipped += 1
                else:
                    failed += 1
                    print(f"line {line}: {err.code}: {err.message}", file=sys.stderr)
    print(f"{created} created, {skipped} already there, {failed} refused", file=sys.stderr)
    return 1 if failed else EXIT_OK


def cmd_device_list(args: argparse.Namespace) -> int:
    """List a citizen's devices (phones holding their own key), removed ones too."""
    with open_ecert(args) as ecert:
        ecert.accounts.require_citizen(args.citizen_id)
        print_json(
            [
                {
                    "id": d.device_id,
                    "label": d.label,
                    "kid": d.kid,
                    "created": d.created_at,
                    "last_seen": d.last_seen,
                    "state": d.state,
                }
                for d in ecert.devices.list_devices(args.citizen_id)
            ]
        )
    return EXIT_OK


def cmd_device_remove(args: argparse.Namespace) -> int:
    """Remove a citizen's device (a lost phone) and revoke its credential copies at once."""
    with open_ecert(args) as ecert:
        ecert.accounts.require_citizen(args.citizen_id)
        removed = ecert.devices.remove(args.citizen_id, args.device_id)
    print_json({"id": removed.device_id, "state": removed.state})
    return EXIT_OK


def cmd_api_key_list(args: argparse.Namespace) -> int:
    """List API keys (ids, owners, states; never secrets)."""
    with open_ecert(args) as ecert:
        keys = ecert.store.list_api_keys(args.principal)
    print_json(
        [
            {
                "key_id": k.key_id,
                "kind": k.kind,
                "principal": k.principal,
                "created_at": k.created_at,
                "revoked_at": k.revoked_at,
            }
            for k in keys
        ]
    )
    return EXIT_OK


def cmd_api_key_rotate(args: argparse.Namespace) -> int:
    """Issue a new key for the same department or venue and revoke the old one."""
    with open_ecert(args) as ecert:
        key, secret = ecert.accounts.rotate_api_key(args.key_id)
    print_json(
        {
            "key_id": key.key_id,
            "kind": key.kind,
            "principal": key.principal,
            "api_key": secret,
            "revoked": args.key_id,
        }
    )
    return EXIT_OK


def cmd_api_key_revoke(args: argparse.Namespace) -> int:
    """Revoke an API key at once."""
    with open_ecert(args) as ecert:
        ecert.accounts.revoke_api_key(args.key_id)
    print(f"{args.key_id}: revoked", file=sys.stderr)
    return EXIT_OK


#: An operator's name (the principal of their keys): letters, digits, ``_.-``.
OPERATOR_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def cmd_operator_key_add(args: argparse.Namespace) -> int:
    """Make an operator key for NAME (the ``/admin`` dashboard and ``/api/v1/admin/…``);
    it is shown once, only its hash is stored."""
    if OPERATOR_NAME.fullmatch(args.name) is None:
        print("ecert: an operator name is 1-64 letters, digits, '_', '.', '-'", file=sys.stderr)
        return EXIT_USAGE
    with open_ecert(args) as ecert:
        key, secret = ecert.accounts.issue_api_key("operator", args.name)
    print_json({"name": args.name, "key_id": key.key_id, "api_key": secret})
    print("the API key is shown once; only its hash is stored", file=sys.stderr)
    return EXIT_OK


def cmd_operator_key_revoke(args: argparse.Namespace) -> int:
    """Revoke every live operator key of NAME at once."""
    with open_ecert(args) as ecert:
        live = [
            k
            for k in ecert.store.list_api_keys(args.name)
            if k.kind == "operator" and k.revoked_at is None
        ]
        for key in live:
            ecert.accounts.revoke_api_key(key.key_id)
    if not live:
        print(f"ecert: no live operator key named {args.name!r}", file=sys.stderr)
        return EXIT_FAIL
    print_json({"name": args.name, "revoked": [k.key_id for k in live]})
    return EXIT_OK


# -- exports ------------------------------------------------------------------------------


def cmd_bundle_export(args: argparse.Namespace) -> int:
    """Write the verifier bundle (signed trust list and status lists), the same document
    as ``GET /api/v1/verifier/bundle``: whole or not at all, mode 0600."""
    with open_ecert(args) as ecert:
        bundle = ecert.publication.bundle()
    write_file(args.output, json.dumps(bundle) + "\n", private=True)
    print(f"bundle written to {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_trust_list_export(args: argparse.Namespace) -> int:
    """Write the signed trust list (a JWT), the same document as ``GET /trust-list``:
    whole or not at all, mode 0600."""
    with open_ecert(args) as ecert:
        token = ecert.publication.trust_list()
    write_file(args.output, token + "\n", private=True)
    print(f"trust list written to {args.output}", file=sys.stderr)
    return EXIT_OK


def _admin_export(args: argparse.Namespace) -> int:
    if args.what == "trust-list":
        return cmd_trust_list_export(args)
    return cmd_bundle_export(args)


# -- the audit chain -----------------------------------------------------------------------


def cmd_audit_verify(args: argparse.Namespace) -> int:
    """Check the whole audit chain: exit 0 and "N entries, chain intact", or exit 1
    naming the first bad entry and why (missing, link broken, body altered, tag wrong)."""
    with open_ecert(args) as ecert:
        report = ecert.audit.verify()
    print(report.line(), file=sys.stdout if report.intact else sys.stderr)
    return EXIT_OK if report.intact else EXIT_FAIL


def cmd_derived_refresh(args: argparse.Namespace) -> int:
    """Bring the age and residence attestations of every citizen (or one, --citizen) up
    to date: issue the missing and the expired (a birthday crossed a threshold), revoke
    those whose source is gone. Idempotent: run it daily. Prints the counts as JSON."""
    with open_ecert(args) as ecert:
        if args.citizen is None:
            print_json(ecert.derived.refresh().to_dict())
            return EXIT_OK
        ecert.accounts.require_citizen(args.citizen)
        done = ecert.derived.sync(args.citizen)
        print_json(
            {
                "citizens": 1,
                "issued": len(done.issued),
                "revoked": len(done.revoked),
                "kept": len(done.kept),
                "failed": 0,
            }
        )
    return EXIT_OK


def _day(text: str, flag: str) -> int:
    try:
        day = datetime.date.fromisoformat(text)
    except ValueError:
        raise UsageError(f"{flag} is a date, YYYY-MM-DD (UTC)") from None
    if len(text) != 10:
        raise UsageError(f"{flag} is a date, YYYY-MM-DD (UTC)")
    start = datetime.datetime(day.year, day.month, day.day, tzinfo=datetime.UTC)
    return int(start.timestamp())


def cmd_audit_export(args: argparse.Namespace) -> int:
    """Export the audit entries from --since (a UTC day, included) to --until (a UTC
    day, excluded; default: the end) as JSON Lines, purposes opened, ending with the
    head signed by the platform's anchor key: to --out (mode 0600, written whole or not
    at all) or standard output. Progress on stderr."""
    since = _day(args.since, "--since")
    until = None if args.until is None else _day(args.until, "--until")
    if until is not None and until <= since:
        raise UsageError("--until must be after --since")
    with open_ecert(args) as ecert:
        items = ecert.audit.export(since, until)
        count = _write_lines(
            args.out, (json.dumps(item, ensure_ascii=False) + "\n" for item in items)
        )
    print(f"{count} audit entries exported{f' to {args.out}' if args.out else ''}", file=sys.stderr)
    return EXIT_OK


#: Entries between two progress lines of an export.
_PROGRESS_EVERY = 10_000


def _write_lines(out: str | None, lines: Iterator[str]) -> int:
    """Write ``lines`` to ``out`` (a temporary file 0600 beside it, renamed at the end)
    or standard output; the number of entries written (the head line not counted)."""
    count = -1
    if out is None:
        for count, line in enumerate(lines):
            sys.stdout.write(line)
            _progress(count)
        return max(count, 0)
    target = Path(out)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            os.fchmod(fh.fileno(), 0o600)
            for count, line in enumerate(lines):
                fh.write(line)
                _progress(count)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return max(count, 0)


def _progress(count: int) -> None:
    if count and count % _PROGRESS_EVERY == 0:
        print(f"{count} audit entries…", file=sys.stderr)


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the whole story once: issue, present, verify offline, revoke, verify again."""
    from cli.demo import run_demo

    try:
        return run_demo(Path(args.output))
    except FileExistsError as err:
        raise UsageError(str(err)) from err


# -- parsers ------------------------------------------------------------------------------


def _department_add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("slug")
    p.add_argument("--zh", required=True, help="Chinese name")
    p.add_argument("--en", required=True, help="English name")
    p.add_argument("--vct", action="append", required=True, help="a type it may issue (repeat)")
    p.add_argument("--alg", choices=["ES256", "EdDSA"], default="ES256")


def add_bundle_commands(bsub: Any) -> None:
    """``ecert bundle export`` (the ``bundle`` group is shared with the verifier's pull)."""
    p = bsub.add_parser(
        "export",
        help="write the bundle of this instance (0600)",
        description=cmd_bundle_export.__doc__,
    )
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_bundle_export)


def add_commands(sub: Any) -> None:
    """Register the operator's commands on the ``ecert`` parser's subcommands."""
    p = sub.add_parser("serve", help="run the HTTP service", description=cmd_serve.__doc__)
    p.add_argument("--demo", action="store_true", help="seed demo data and print the logins")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("demo", help="issue, present and verify a sample credential offline")
    p.add_argument("-o", "--output", default="demo-out", help="folder for the demo files")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("init", help="create the instance and the trust anchor")
    p.add_argument("--base-url", help="public base URL (issuer ids are built from it)")
    p.set_defaults(func=cmd_init)

    keys = sub.add_parser("keys", help="trust anchor and signing keys")
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    p = ksub.add_parser("anchor", help="print the anchor's public JWK (create it if needed)")
    p.add_argument("-o", "--output", help="also write it to this file")
    p.set_defaults(func=cmd_keys_anchor)
    p = ksub.add_parser("list", help="list keys and their states")
    p.add_argument("--owner", help="issuer slug, or 'anchor'")
    p.set_defaults(func=cmd_keys_list)
    p = ksub.add_parser(
        "rotate",
        help="create a pending key for an issuer slug or 'anchor'",
        description=cmd_keys_rotate.__doc__,
    )
    p.add_argument("owner")
    p.add_argument("--alg", choices=["ES256", "EdDSA"], default="ES256")
    p.add_argument(
        "--lead", type=int, metavar="SECONDS", help="seconds until it signs (default: the ttl)"
    )
    p.add_argument("--force", action="store_true", help="allow a lead under the ttl")
    p.set_defaults(func=cmd_keys_rotate)
    for name, state in (("activate", KeyState.ACTIVE), ("retire", KeyState.RETIRED)):
        p = ksub.add_parser(name, help=f"move a key to {state.value}")
        p.add_argument("kid")
        p.set_defaults(func=_set_state(state))
    p = ksub.add_parser(
        "compromise",
        help="report a key compromised (ISSUER KID)",
        description=cmd_keys_compromise.__doc__,
    )
    p.add_argument("ids", nargs="+", metavar="ISSUER KID")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_keys_compromise)

    audit = sub.add_parser("audit", help="the audit chain of every use of citizens' data")
    ausub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    p = ausub.add_parser("verify", help="check the chain", description=cmd_audit_verify.__doc__)
    p.set_defaults(func=cmd_audit_verify)
    p = ausub.add_parser(
        "export",
        help="a period for the regulator (JSON Lines)",
        description=cmd_audit_export.__doc__,
    )
    p.add_argument("--since", required=True, metavar="YYYY-MM-DD", help="first day (UTC), included")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="last day (UTC), excluded")
    p.add_argument("--out", metavar="FILE", help="write here (mode 0600), not to standard output")
    p.set_defaults(func=cmd_audit_export)

    derived = sub.add_parser(
        "derived", help="age and residence attestations derived from ID cards and registers"
    )
    desub = derived.add_subparsers(dest="derived_command", required=True, metavar="ACTION")
    p = desub.add_parser(
        "refresh",
        help="issue the due attestations (daily)",
        description=cmd_derived_refresh.__doc__,
    )
    p.add_argument("--citizen", metavar="ID", help="only this citizen's wallet")
    p.set_defaults(func=cmd_derived_refresh)

    p = sub.add_parser("trust-list", help="the signed trust list")
    tsub = p.add_subparsers(dest="trust_list_command", required=True, metavar="ACTION")
    p = tsub.add_parser("export", help="write the signed trust list (0600)")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_trust_list_export)

    admin = sub.add_parser("admin", help="departments, venues, citizens and API keys")
    asub = admin.add_subparsers(dest="admin_command", required=True, metavar="AREA")

    dep = asub.add_parser("department", help="departments that issue")
    dsub = dep.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = dsub.add_parser(
        "add",
        help="register a department and show its API key once",
        description=cmd_department_add.__doc__,
    )
    _department_add_arguments(p)
    p.set_defaults(func=cmd_department_add)
    p = dsub.add_parser("list", help="list departments")
    p.set_defaults(func=cmd_department_list)

    ven = asub.add_parser("venue", help="venues that verify")
    vsub = ven.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = vsub.add_parser("add", help="register a venue and show its API key once")
    p.add_argument("id")
    p.add_argument("--zh", required=True)
    p.add_argument("--en", required=True)
    p.add_argument("--scene", action="append", required=True)
    p.set_defaults(func=cmd_venue_add)

    cit = asub.add_parser("citizen", help="citizens' accounts")
    csub = cit.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = csub.add_parser("add", help="create a citizen")
    p.add_argument("citizen_id")
    group = p.add_mutually_exclusive_group()
    group.add_argument("--password-stdin", action="store_true")
    group.add_argument("--no-password", action="store_true", help="identity-provider login only")
    p.set_defaults(func=cmd_citizen_add)
    p = csub.add_parser("import", help="create citizens from CSV (citizen_id[,password])")
    p.add_argument("file")
    p.set_defaults(func=cmd_citizen_import)

    dev = asub.add_parser("device", help="citizens' devices (phones with their own key)")
    dsub = dev.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = dsub.add_parser("list", help="list a citizen's devices")
    p.add_argument("citizen_id")
    p.set_defaults(func=cmd_device_list)
    p = dsub.add_parser("remove", help="remove a device and revoke its credential copies")
    p.add_argument("citizen_id")
    p.add_argument("device_id")
    p.set_defaults(func=cmd_device_remove)

    key = asub.add_parser("key", help="API keys of departments, venues and operators")
    ksub = key.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = ksub.add_parser("list", help="list keys")
    p.add_argument("--principal", help="issuer URL or venue id")
    p.set_defaults(func=cmd_api_key_list)
    for name, func in (("rotate", cmd_api_key_rotate), ("revoke", cmd_api_key_revoke)):
        p = ksub.add_parser(name, help=f"{name} a key")
        p.add_argument("key_id")
        p.set_defaults(func=func)

    op = asub.add_parser("operator-key", help="operators' keys (the /admin dashboard)")
    osub = op.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = osub.add_parser(
        "add",
        help="make an operator key and show it once",
        description=cmd_operator_key_add.__doc__,
    )
    p.add_argument("name")
    p.set_defaults(func=cmd_operator_key_add)
    p = osub.add_parser(
        "revoke", help="revoke an operator's keys", description=cmd_operator_key_revoke.__doc__
    )
    p.add_argument("name")
    p.set_defaults(func=cmd_operator_key_revoke)

    # Hidden (no help: argparse lists them nowhere), for one release.
    p = asub.add_parser("export")
    p.add_argument("what", choices=["trust-list", "bundle"])
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(
        func=deprecated(
            lambda args: f"ecert admin export {args.what}",
            lambda args: f"ecert {args.what} export",
            _admin_export,
        )
    )
    iss = sub.add_parser("issuer")
    isub = iss.add_subparsers(dest="issuer_command", required=True, metavar="ACTION")
    p = isub.add_parser("add")
    _department_add_arguments(p)
    p.set_defaults(
        func=deprecated("ecert issuer add", "ecert admin department add", cmd_department_add)
    )
    p = isub.add_parser("list")
    p.set_defaults(
        func=deprecated("ecert issuer list", "ecert admin department list", cmd_department_list)
    )
