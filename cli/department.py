"""A department's commands: issue credentials and change their status.

``ecert types`` (the catalogue), ``ecert holder-key`` (a test holder key for
``issue --holder``), ``ecert issue``, ``ecert issue-batch``, ``ecert revoke``,
``ecert suspend`` and ``ecert reinstate``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    UsageError,
    load_holder,
    open_ecert,
    print_json,
    read_json_file,
    write_file,
)
from cli.jobs import run_with_progress
from issuer import load_catalogue
from keys import EcertError, SigningKey
from keys.errors import FormatError
from keys.jsonstrict import loads
from service.batches import MAX_BODY
from service.instance import Ecert

__all__ = ["add_commands"]


def cmd_holder_new(args: argparse.Namespace) -> int:
    """Write a new P-256 holder key (PEM, mode 0600) and print its public JWK."""
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    key = SigningKey.generate("ES256")
    pem = key.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    write_file(args.output, pem, private=True)
    print_json(key.public_jwk())
    return EXIT_OK


def cmd_types(args: argparse.Namespace) -> int:
    """List the credential types of the catalogue."""
    catalogue = load_catalogue()
    if args.json:
        print_json([t.to_dict() for t in catalogue])
        return EXIT_OK
    for t in catalogue:
        print(f"{t.vct:40} {t.name.zh} / {t.name.en}")
    return EXIT_OK


def cmd_issue(args: argparse.Namespace) -> int:
    """Issue a credential from a JSON file of claims to a holder's public key."""
    claims = read_json_file(args.claims)
    if not isinstance(claims, dict):
        raise UsageError("the claims file must hold a JSON object")
    if args.holder_jwk:
        holder = read_json_file(args.holder_jwk)
    else:
        holder = dict(load_holder(args.holder).public_jwk())
    inst = open_ecert(args)
    try:
        record = inst.platform.issuer(args.issuer)
        issued = inst.issuer.issue(
            record.iss, args.vct, subject=args.subject, claims=claims, holder_jwk=holder
        )
    finally:
        inst.close()
    if args.output:
        write_file(args.output, issued.sd_jwt + "\n", private=True)
    else:
        print(issued.sd_jwt)
    print(f"credential id: {issued.id}", file=sys.stderr)
    return EXIT_OK


def _change(action: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        inst = open_ecert(args)
        try:
            record = inst.platform.issuer(args.issuer)
            # The use case, so that the copies on the citizen's devices follow.
            changed = getattr(inst.issuance, action)(record, args.id)
            print(f"{args.id}: {changed.state}", file=sys.stderr)
        finally:
            inst.close()
        return EXIT_OK

    run.__doc__ = f"{action.capitalize()} a credential."
    return run


def cmd_issue_batch(args: argparse.Namespace) -> int:
    """Issue many credentials from a JSON Lines file; one result line per input line.

    Each input line is ``{"issuer", "vct", "subject", "claims", "holder_jwk"}``. A bad
    line is reported (with its error code) and the batch goes on; results are written
    and flushed as they come, so an interrupted batch loses nothing already issued.

    With ``--into-wallets --issuer SLUG``, the file is a batch as ``POST
    /api/v1/issuers/{issuer}/batches`` takes it (``{"row_id", "citizen_id", "vct",
    "claims", "notice"}`` a line) and runs as the same job: into the citizens'
    wallets with their notices, rows issued before skipped, resumable (``ecert jobs
    show ID``, ``ecert jobs run ID``); the summary is printed as JSON.
    """
    if args.into_wallets:
        return _into_wallets(args)
    if not args.output:
        raise UsageError("issue-batch needs -o/--output (or --into-wallets --issuer SLUG)")
    from tqdm import tqdm

    try:
        with open(args.file, encoding="utf-8") as fh:
            lines = fh.readlines()
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"cannot read {args.file}") from err
    inst = open_ecert(args)
    issued = failed = 0
    try:
        fd = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for number, line in enumerate(
                tqdm(lines, desc="issuing", unit="cred", disable=args.quiet), start=1
            ):
                if not line.strip():
                    continue
                result = _issue_line(inst, line)
                result["line"] = number
                if "error" in result:
                    failed += 1
                else:
                    issued += 1
                out.write(json.dumps(result, ensure_ascii=False) + "\n")
                out.flush()
    finally:
        inst.close()
    print(f"{issued} issued, {failed} failed: {args.output}", file=sys.stderr)
    return EXIT_FAIL if failed else EXIT_OK


#: How often ``--into-wallets`` looks at a batch another process runs (seconds).
_POLL = 0.5


def _into_wallets(args: argparse.Namespace) -> int:
    """``issue-batch --into-wallets``: the batch job, run here with a progress bar."""
    if not args.issuer:
        raise UsageError("--into-wallets needs --issuer SLUG (the department)")
    try:
        with open(args.file, "rb") as fh:
            body = fh.read(MAX_BODY + 1)
    except OSError as err:
        raise UsageError(f"cannot read {args.file}") from err
    with open_ecert(args) as ecert:
        department = ecert.platform.issuer(args.issuer)
        job = ecert.batches.create(department, body)
        print(f"batch {job.id}: {job.total} rows", file=sys.stderr)
        ended = run_with_progress(ecert.jobs, job, quiet=args.quiet)
        if ended is None:
            # A running service's job runner claimed it first: follow it to its end.
            while True:
                now = ecert.jobs.get(job.id)
                if now is None or now.state in ("done", "failed"):
                    break
                time.sleep(_POLL)
        status = ecert.batches.status(department, job.id)
    print_json(status)
    return EXIT_FAIL if status["failed"] or status["state"] != "done" else EXIT_OK


def _issue_line(inst: Ecert, line: str) -> dict[str, Any]:
    try:
        item = loads(line)
    except FormatError as err:
        return {"error": {"code": "malformed", "message": f"the line is not JSON: {err.message}"}}
    fields = ("issuer", "vct", "subject", "claims", "holder_jwk")
    if not isinstance(item, dict) or not all(f in item for f in fields):
        message = f"each line needs {', '.join(fields)}"
        return {"error": {"code": "malformed", "message": message}}
    try:
        record = inst.platform.issuer(str(item["issuer"]))
        if not isinstance(item["claims"], dict) or not isinstance(item["holder_jwk"], dict):
            raise FormatError("'claims' and 'holder_jwk' must be objects")
        issued = inst.issuer.issue(
            record.iss,
            str(item["vct"]),
            subject=str(item["subject"]),
            claims=item["claims"],
            holder_jwk=item["holder_jwk"],
        )
    except EcertError as err:
        return {"error": {"code": err.code, "message": err.message}}
    return {"id": issued.id, "credential": issued.sd_jwt}


# -- parser ---------------------------------------------------------------------------


def add_commands(sub: Any) -> None:
    """Register a department's commands on the ``ecert`` parser's subcommands."""

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=func.__doc__)
        p.set_defaults(func=func)
        return p

    p = add("types", cmd_types, "list the credential types")
    p.add_argument("--json", action="store_true")

    p = add("holder-key", cmd_holder_new, "create a holder key file (PEM, 0600)")
    p.add_argument("-o", "--output", required=True)

    p = add("issue", cmd_issue, "issue a credential")
    p.add_argument("issuer", help="issuer slug")
    p.add_argument("vct", help="credential type id (see 'ecert types')")
    p.add_argument("--claims", required=True, help="JSON file of claims")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--holder", help="holder key file (from 'ecert holder-key')")
    group.add_argument("--holder-jwk", help="JSON file with the holder's public JWK")
    p.add_argument("--subject", required=True, help="the citizen's id in the registry")
    p.add_argument("-o", "--output", help="write the credential here (mode 0600)")

    p = add("issue-batch", cmd_issue_batch, "issue credentials from a JSON Lines file")
    p.add_argument(
        "file",
        help="one JSON object a line: issuer, vct, subject, claims, holder_jwk (with "
        "--into-wallets: row_id, citizen_id, vct, claims, notice)",
    )
    p.add_argument("-o", "--output", help="results, one JSON line each (0600)")
    p.add_argument(
        "--into-wallets",
        action="store_true",
        help="issue into citizens' wallets as a batch job (as POST …/batches does)",
    )
    p.add_argument("--issuer", help="with --into-wallets: the department's issuer slug")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    for action in ("revoke", "suspend", "reinstate"):
        p = add(action, _change(action), f"{action} a credential")
        p.add_argument("issuer", help="issuer slug")
        p.add_argument("id", help="credential id")
