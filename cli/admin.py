"""``ecert serve`` and ``ecert admin``: run the service and operate it step by step.

Everything ``--demo`` seeds can be done one step at a time here: the trust anchor,
departments (with their API key, shown once), venues, citizens (one by one or from a
CSV file), API key rotation and revocation, and exports of the trust list and bundle.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import secrets
import sys
from collections.abc import Callable
from typing import Any

from service.instance import Instance, open_instance

Handler = Callable[[argparse.Namespace], int]


def _open(args: argparse.Namespace) -> Instance:
    return open_instance(args.instance, base_url=getattr(args, "base_url", None))


def _accounts(instance: Instance) -> Any:
    from service.accounts import Accounts

    return Accounts(instance.store, pseudonyms=instance.pseudonyms)


def _show(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2))


# -- serve --------------------------------------------------------------------------------


def cmd_serve(args: argparse.Namespace) -> int:
    """Run the HTTP service under gunicorn (``--demo`` seeds demo data first)."""
    from gunicorn.app.base import BaseApplication

    if args.instance:
        os.environ["ECERT_INSTANCE"] = args.instance
    base_url = os.environ.get("ECERT_BASE_URL") or f"http://{args.host}:{args.port}"
    instance = open_instance(args.instance, base_url=base_url)
    try:
        if instance.platform.base_url != base_url.rstrip("/"):
            print(
                f"note: this instance's base URL is {instance.platform.base_url} (kept from "
                "its first use; issuer ids and status list URLs are built from it)",
                file=sys.stderr,
            )
        if args.demo:
            from cli.seed import seed_demo

            logins = seed_demo(instance, _accounts(instance))
            _print_demo(logins, instance)
    finally:
        instance.close()

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
            from api import create_app

            return create_app()

    Server().run()
    return 0


def _print_demo(logins: Any, instance: Instance) -> None:
    base = logins["base_url"]
    lines = [
        f"ecert demo at {base}  (logins saved in {instance.path / 'demo.json'})",
        f"  citizen wallet:  {base}/wallet     venue scanner: {base}/scan",
        f"  OpenAPI:         {base}/openapi.json",
        "  citizens (POST /api/v1/auth/login):",
    ]
    lines += [f"    {c['citizen_id']}  password {c['password']}" for c in logins["citizens"]]
    lines.append("  departments (Authorization: Bearer <key>):")
    lines += [f"    {d['issuer']:<14} {d['api_key']}" for d in logins["departments"]]
    lines.append("  venues (Authorization: Bearer <key>):")
    lines += [f"    {v['id']:<14} {v['api_key']}  scenes {v['scenes']}" for v in logins["venues"]]
    print("\n".join(lines), file=sys.stderr)


# -- admin --------------------------------------------------------------------------------


def cmd_department_add(args: argparse.Namespace) -> int:
    """Register a department; its signing key is generated and its API key shown once."""
    instance = _open(args)
    try:
        instance.platform.ensure_anchor()
        record = instance.platform.register_issuer(
            args.slug, name_zh=args.zh, name_en=args.en, vcts=args.vct
        )
        key, secret = _accounts(instance).issue_api_key("department", record.iss)
        _show(
            {
                "issuer": record.slug,
                "iss": record.iss,
                "vcts": list(record.vcts),
                "key_id": key.key_id,
                "api_key": secret,
            }
        )
        print("the API key is shown once; only its hash is stored", file=sys.stderr)
    finally:
        instance.close()
    return 0


def cmd_venue_add(args: argparse.Namespace) -> int:
    """Register a venue with the scenes its staff may verify; its API key is shown once."""
    from store.interface import VenueRecord

    instance = _open(args)
    try:
        known = {s["id"] for s in instance.platform.scenes()}
        unknown = sorted(set(args.scene) - known)
        if unknown:
            print(f"ecert: unknown scenes {unknown}; known: {sorted(known)}", file=sys.stderr)
            return 2
        instance.store.put_venue(VenueRecord(args.id, args.zh, args.en, tuple(args.scene), 0))
        key, secret = _accounts(instance).issue_api_key("venue", args.id)
        _show({"id": args.id, "scenes": args.scene, "key_id": key.key_id, "api_key": secret})
        print("the API key is shown once; only its hash is stored", file=sys.stderr)
    finally:
        instance.close()
    return 0


def cmd_citizen_add(args: argparse.Namespace) -> int:
    """Create a citizen; the password is read from stdin, or generated and shown once."""
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    shown = password is None and not args.no_password
    if shown:
        password = secrets.token_urlsafe(12)
    instance = _open(args)
    try:
        _accounts(instance).create_citizen(args.citizen_id, None if args.no_password else password)
    finally:
        instance.close()
    _show({"citizen_id": args.citizen_id, **({"password": password} if shown else {})})
    return 0


def cmd_citizen_import(args: argparse.Namespace) -> int:
    """Create citizens from a CSV file with a header ``citizen_id[,password]``.

    Rows without a password get none (identity-provider login only). Existing
    citizens are skipped, bad rows reported by line; the import goes on.
    """
    from keys.errors import EcertError

    try:
        with open(args.file, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        print(f"ecert: cannot read {args.file}: {err}", file=sys.stderr)
        return 2
    instance = _open(args)
    created = skipped = failed = 0
    try:
        accounts = _accounts(instance)
        for line, row in enumerate(rows, start=2):
            citizen_id = (row.get("citizen_id") or "").strip()
            password = (row.get("password") or "").strip() or None
            try:
                accounts.create_citizen(citizen_id, password)
                created += 1
            except EcertError as err:
                if err.code == "conflict":
                    skipped += 1
                else:
                    failed += 1
                    print(f"line {line}: {err.code}: {err.message}", file=sys.stderr)
    finally:
        instance.close()
    print(f"{created} created, {skipped} already there, {failed} refused", file=sys.stderr)
    return 1 if failed else 0


def cmd_key_list(args: argparse.Namespace) -> int:
    """List API keys (ids, owners, states; never secrets)."""
    instance = _open(args)
    try:
        keys = instance.store.list_api_keys(args.principal)
    finally:
        instance.close()
    _show(
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
    return 0


def cmd_key_rotate(args: argparse.Namespace) -> int:
    """Issue a new key for the same department or venue and revoke the old one."""
    instance = _open(args)
    try:
        key, secret = _accounts(instance).rotate_api_key(args.key_id)
    finally:
        instance.close()
    _show(
        {
            "key_id": key.key_id,
            "kind": key.kind,
            "principal": key.principal,
            "api_key": secret,
            "revoked": args.key_id,
        }
    )
    return 0


def cmd_key_revoke(args: argparse.Namespace) -> int:
    """Revoke an API key at once."""
    instance = _open(args)
    try:
        _accounts(instance).revoke_api_key(args.key_id)
    finally:
        instance.close()
    print(f"{args.key_id}: revoked", file=sys.stderr)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write the signed trust list (a JWT) or the verifier bundle (JSON)."""
    instance = _open(args)
    try:
        if args.what == "trust-list":
            data = instance.platform.trust_list() + "\n"
        else:
            data = json.dumps(instance.platform.bundle(instance.status)) + "\n"
    finally:
        instance.close()
    with open(args.output, "w", encoding="utf-8") as fh:
        fh.write(data)
    print(f"{args.what} written to {args.output}", file=sys.stderr)
    return 0


def add_commands(sub: Any) -> None:
    """Register ``serve`` and ``admin`` on the ``ecert`` parser's subcommands."""
    p = sub.add_parser("serve", help="run the HTTP service", description=cmd_serve.__doc__)
    p.add_argument("--demo", action="store_true", help="seed demo data and print the logins")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--threads", type=int, default=4)
    p.set_defaults(func=cmd_serve)

    admin = sub.add_parser("admin", help="operate the service step by step")
    asub = admin.add_subparsers(dest="admin_command", required=True, metavar="AREA")

    dep = asub.add_parser("department", help="departments that issue")
    dsub = dep.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = dsub.add_parser("add", help="register a department and show its API key once")
    p.add_argument("slug")
    p.add_argument("--zh", required=True)
    p.add_argument("--en", required=True)
    p.add_argument("--vct", action="append", required=True)
    p.set_defaults(func=cmd_department_add)

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

    key = asub.add_parser("key", help="API keys of departments and venues")
    ksub = key.add_subparsers(dest="action", required=True, metavar="ACTION")
    p = ksub.add_parser("list", help="list keys")
    p.add_argument("--principal", help="issuer URL or venue id")
    p.set_defaults(func=cmd_key_list)
    for name, func in (("rotate", cmd_key_rotate), ("revoke", cmd_key_revoke)):
        p = ksub.add_parser(name, help=f"{name} a key")
        p.add_argument("key_id")
        p.set_defaults(func=func)

    p = asub.add_parser("export", help="write the trust list or the verifier bundle")
    p.add_argument("what", choices=["trust-list", "bundle"])
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_export)
