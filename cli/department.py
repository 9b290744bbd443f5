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
from issuer import load_catalogue
from keys import EcertError, SigningKey
from keys.errors import FormatError
from keys.jsonstrict import loads
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
    """
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
    p.add_argument("file", help="one JSON object a line: issuer, vct, subject, claims, holder_jwk")
    p.add_argument("-o", "--output", required=True, help="results, one JSON line each (0600)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")

    for action in ("revoke", "suspend", "reinstate"):
        p = add(action, _change(action), f"{action} a credential")
        p.add_argument("issuer", help="issuer slug")
        p.add_argument("id", help="credential id")
