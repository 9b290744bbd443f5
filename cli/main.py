"""The ``ecert`` command line (DESIGN.md §5).

Exit codes: 0 success (for ``verify``: valid), 1 a domain failure (for ``verify``:
invalid), 2 bad usage or unreadable input.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from issuer import load_catalogue
from keys import EcertError, KeyState, SigningKey
from keys.errors import FormatError, KeyStoreError
from keys.jsonstrict import loads, loads_object
from service.instance import Instance, open_instance

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
#: Error codes that mean "unusable input" (exit 2), not a domain failure (exit 1).
_UNUSABLE_INPUT = frozenset({"bundle_invalid"})
_MAX_INPUT = 1024 * 1024


class UsageError(Exception):
    """Bad arguments or unreadable input: exit code 2."""


def _print_json(value: Any, *, indent: int | None = 2) -> None:
    """Print ``value`` as JSON, UTF-8 where standard output takes it, else with \\u escapes.

    The escaped text is the same JSON value, so an ASCII-only terminal or pipe
    (``PYTHONIOENCODING=ascii``) gets a correct answer instead of a traceback.
    """
    text = json.dumps(value, ensure_ascii=False, indent=indent)
    try:
        text.encode(getattr(sys.stdout, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        text = json.dumps(value, indent=indent)
    print(text)


def _read_json_file(path: str) -> Any:
    try:
        with open(path, "rb") as fh:
            data = fh.read(_MAX_INPUT + 1)
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from err
    if len(data) > _MAX_INPUT:
        raise UsageError(f"{path} is too large")
    try:
        return loads(data, max_bytes=_MAX_INPUT)
    except FormatError as err:
        raise UsageError(f"{path} is not valid JSON: {err.message}") from err


def _read_text(arg: str | None, file: str | None = None) -> str:
    if file is not None:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"cannot read {file}") from err
    if arg is None or arg == "-":
        data = sys.stdin.read(_MAX_INPUT + 1)
        if len(data) > _MAX_INPUT:
            raise UsageError("standard input is too large")
        return data.strip()
    return arg


def _write(path: str, data: bytes | str, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file beside it, then a
    rename, so that a crash or a full disk never leaves half a bundle or key behind.
    Special files (``/dev/stdout``) are written in place."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    mode = 0o600 if private else 0o644
    target = Path(path)
    if target.exists() and not target.is_file():
        with open(target, "wb") as fh:
            fh.write(raw)
        return
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent or ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            os.fchmod(fh.fileno(), mode)
            fh.write(raw)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _instance(args: argparse.Namespace) -> Instance:
    return open_instance(args.instance, base_url=getattr(args, "base_url", None))


# -- holder keys (the CLI's stand-in for a phone's key store) --------------------------


def _load_holder(path: str) -> SigningKey:
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        pem = Path(path).read_bytes()
        key = load_pem_private_key(pem, password=None)
    except (OSError, ValueError) as err:
        raise UsageError(f"cannot read the holder key {path}") from err
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise UsageError("the holder key must be a P-256 key")
    return SigningKey.from_private_key(key)


def cmd_holder_new(args: argparse.Namespace) -> int:
    """Write a new P-256 holder key (PEM, mode 0600) and print its public JWK."""
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
    )

    key = SigningKey.generate("ES256")
    pem = key.key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    _write(args.output, pem, private=True)
    _print_json(key.public_jwk())
    return EXIT_OK


# -- operator -------------------------------------------------------------------------


def cmd_init(args: argparse.Namespace) -> int:
    """Create the instance and its trust anchor."""
    inst = _instance(args)
    try:
        anchor = inst.platform.ensure_anchor()
        print(f"instance: {inst.path.resolve()}", file=sys.stderr)
        print(f"base URL: {inst.platform.base_url}", file=sys.stderr)
        print(f"trust anchor kid: {anchor.kid}", file=sys.stderr)
    finally:
        inst.close()
    return EXIT_OK


def cmd_types(args: argparse.Namespace) -> int:
    """List the credential types of the catalogue."""
    catalogue = load_catalogue()
    if args.json:
        _print_json([t.to_dict() for t in catalogue])
        return EXIT_OK
    for t in catalogue:
        print(f"{t.vct:40} {t.name.zh} / {t.name.en}")
    return EXIT_OK


def cmd_keys_anchor(args: argparse.Namespace) -> int:
    """Print (and optionally write) the anchor's public JWK, creating the anchor if needed."""
    inst = _instance(args)
    try:
        jwk = inst.platform.ensure_anchor().public_jwk()
    finally:
        inst.close()
    if args.output:
        _write(args.output, json.dumps(jwk, indent=2) + "\n")
    _print_json(jwk)
    return EXIT_OK


def cmd_keys_list(args: argparse.Namespace) -> int:
    """List keys (public parts and states only)."""
    inst = _instance(args)
    try:
        if args.owner is None:
            records = inst.store.list_keys()
        else:
            owner = "anchor" if args.owner == "anchor" else inst.platform.issuer(args.owner).iss
            records = inst.store.list_keys(owner)
        _print_json(
            [
                {
                    "kid": r.kid,
                    "owner": r.owner,
                    "alg": r.alg,
                    "state": r.state,
                    "created_at": r.created_at,
                }
                for r in records
            ]
        )
    finally:
        inst.close()
    return EXIT_OK


def cmd_keys_rotate(args: argparse.Namespace) -> int:
    """Create a pending key for an issuer (or the anchor): published before it signs."""
    inst = _instance(args)
    try:
        owner = "anchor" if args.owner == "anchor" else inst.platform.issuer(args.owner).iss
        key = inst.keyring.create(owner, alg=args.alg, state=KeyState.PENDING)
        print(key.kid)
    finally:
        inst.close()
    return EXIT_OK


def _set_state(state: KeyState) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        inst = _instance(args)
        try:
            inst.keyring.set_state(args.kid, state)
            print(f"{args.kid}: {state.value}", file=sys.stderr)
        finally:
            inst.close()
        return EXIT_OK

    run.__doc__ = f"Move a key to the {state.value} state."
    return run


def cmd_issuer_add(args: argparse.Namespace) -> int:
    """Register a department with the credential types it may issue."""
    inst = _instance(args)
    try:
        inst.platform.ensure_anchor()
        record = inst.platform.register_issuer(
            args.slug, name_zh=args.zh, name_en=args.en, vcts=args.vct, alg=args.alg
        )
        _print_json({"iss": record.iss, "vcts": list(record.vcts)})
    finally:
        inst.close()
    return EXIT_OK


def cmd_issuer_list(args: argparse.Namespace) -> int:
    """List registered departments."""
    inst = _instance(args)
    try:
        _print_json(
            [
                {
                    "iss": r.iss,
                    "slug": r.slug,
                    "name": {"zh": r.name_zh, "en": r.name_en},
                    "vcts": list(r.vcts),
                }
                for r in inst.store.list_issuers()
            ]
        )
    finally:
        inst.close()
    return EXIT_OK


def cmd_issue(args: argparse.Namespace) -> int:
    """Issue a credential from a JSON file of claims to a holder's public key."""
    claims = _read_json_file(args.claims)
    if not isinstance(claims, dict):
        raise UsageError("the claims file must hold a JSON object")
    if args.holder_jwk:
        holder = _read_json_file(args.holder_jwk)
    else:
        holder = dict(_load_holder(args.holder).public_jwk())
    inst = _instance(args)
    try:
        record = inst.platform.issuer(args.issuer)
        issued = inst.issuer.issue(
            record.iss, args.vct, subject=args.subject, claims=claims, holder_jwk=holder
        )
    finally:
        inst.close()
    if args.output:
        _write(args.output, issued.sd_jwt + "\n", private=True)
    else:
        print(issued.sd_jwt)
    print(f"credential id: {issued.id}", file=sys.stderr)
    return EXIT_OK


def _change(action: str) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        inst = _instance(args)
        try:
            record = inst.platform.issuer(args.issuer)
            changed = getattr(inst.issuer, action)(record.iss, args.id)
            print(f"{args.id}: {changed.state}", file=sys.stderr)
        finally:
            inst.close()
        return EXIT_OK

    run.__doc__ = f"{action.capitalize()} a credential."
    return run


def cmd_bundle_export(args: argparse.Namespace) -> int:
    """Write the verifier bundle (signed trust list and status lists)."""
    inst = _instance(args)
    try:
        bundle = inst.platform.bundle(inst.status)
    finally:
        inst.close()
    _write(args.output, json.dumps(bundle) + "\n")
    print(f"bundle written to {args.output}", file=sys.stderr)
    return EXIT_OK


def cmd_bundle_pull(args: argparse.Namespace) -> int:
    """Download a bundle, check it against the pinned anchor, and save it.

    Refuses (exit 2, the saved file and its state untouched) a bundle that rolls back:
    a trust list older than the saved one or than the newest accepted for its anchor,
    or a status list older than the newest one accepted before for its URI (or, for
    either, as old with other content). The newest accepted ``iat`` of every status
    list and of the trust list is kept in ``FILE.state.json`` beside ``-o FILE``.
    """
    import urllib.error
    import urllib.request

    from verifier import BundleInvalid, StatusHistoryInvalid, load_bundle, read_bundle_file
    from verifier.bundle import MAX_BUNDLE_BYTES, trust_list_mark
    from verifier.history import rollback_reason, trust_rollback_reason

    anchor = _read_json_file(args.anchor)
    if not args.url.startswith(("https://", "http://")):
        raise UsageError("the bundle URL must be http(s)")
    try:
        with urllib.request.urlopen(args.url, timeout=30) as resp:  # noqa: S310 (scheme checked)
            data = resp.read(MAX_BUNDLE_BYTES + 1)
    except (urllib.error.URLError, OSError) as err:
        raise UsageError(f"cannot download the bundle: {err}") from err
    if len(data) > MAX_BUNDLE_BYTES:
        raise UsageError("the download is larger than any bundle may be")
    try:
        bundle = loads_object(data, max_bytes=MAX_BUNDLE_BYTES)
    except FormatError as err:
        raise UsageError(f"the download is not a bundle: {err.message}") from err
    now = time.time()
    loaded = load_bundle(bundle, anchor, now=now)
    history = _state_of(args.output)
    # Refuse to roll back: an older (validly signed) bundle or status list could hide a
    # revocation. What was accepted before: the state file and the saved bundle itself.
    seen = history.marks()
    seen_trust = history.trust_marks()
    current = None
    if Path(args.output).exists():
        try:
            current = load_bundle(read_bundle_file(args.output), anchor)
        except BundleInvalid:
            current = None
    if current is not None:
        for key, sl in current.status_lists.items():
            if key not in seen or sl.iat > seen[key].iat:
                seen[key] = sl.mark
        saved = seen_trust.get(current.trust_list.iss)
        if saved is None or current.trust_list.iat > saved.iat:
            seen_trust[current.trust_list.iss] = trust_list_mark(current.trust_list)
    new_trust = trust_list_mark(loaded.trust_list)
    keep = f"kept {args.output} (--allow-older to override)"
    if not args.allow_older:
        if current is not None and loaded.trust_list.iat < current.trust_list.iat:
            raise UsageError(
                f"the downloaded bundle is older than {args.output} (trust list of "
                f"{_utc(loaded.trust_list.iat)} < {_utc(current.trust_list.iat)}); {keep}"
            )
        anchor_iss = loaded.trust_list.iss
        why = trust_rollback_reason(anchor_iss, seen_trust.get(anchor_iss), new_trust)
        if why is not None:
            raise UsageError(f"refused: {why}; {keep}")
        for key, sl in sorted(loaded.status_lists.items()):
            why = rollback_reason(sl.iss, sl.uri, seen.get(key), sl.mark)
            if why is not None:
                raise UsageError(f"refused: {why}; {keep}")
    for problem in loaded.problems:
        print(f"warning: {problem}", file=sys.stderr)
    _write(args.output, json.dumps(bundle) + "\n")
    marks = {key: sl.mark for key, sl in loaded.status_lists.items()}
    try:
        if args.allow_older:  # the operator's choice: this bundle is the reference now
            from verifier.history import write_state_file

            trust = seen_trust | {loaded.trust_list.iss: new_trust}
            write_state_file(history.path, seen | history.marks() | marks, trust_lists=trust)
        else:
            history.record(marks, now, trust_lists={loaded.trust_list.iss: new_trust})
    except StatusHistoryInvalid as err:
        raise UsageError(err.message) from err
    print(
        f"bundle checked and saved to {args.output}: {len(loaded.status_lists)} status lists, "
        f"trust list valid until {_utc(loaded.trust_list.exp)}",
        file=sys.stderr,
    )
    return EXIT_OK


def _state_of(bundle_path: str, *, readonly: bool = False) -> Any:
    """The rollback guard of a bundle file: ``FILE.state.json`` beside it (exit 2 if bad)."""
    from verifier import FileStatusHistory, StatusHistoryInvalid

    try:
        return FileStatusHistory(f"{bundle_path}.state.json", readonly=readonly)
    except StatusHistoryInvalid as err:
        raise UsageError(
            f"{err.message}; fix or remove it (removing it forgets which status lists were seen)"
        ) from err


def _utc(epoch: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


# -- holder and verifier ------------------------------------------------------------------


def cmd_present(args: argparse.Namespace) -> int:
    """Build a presentation of a credential for a scene (claims from the bundle's policy)."""
    from verifier import load_bundle, read_bundle_file
    from wallet import Wallet

    credential = _read_text(None, args.credential)
    bundle = load_bundle(read_bundle_file(args.bundle), _read_json_file(args.anchor))
    scene = bundle.trust_list.scenes.get(args.scene)
    if scene is None:
        raise UsageError(f"unknown scene {args.scene!r}; known: {sorted(bundle.trust_list.scenes)}")
    wallet = Wallet(_load_holder(args.holder))
    held = wallet.add(credential)
    print(wallet.present_for_scene(held, scene))
    return EXIT_OK


def cmd_verify(args: argparse.Namespace) -> int:
    """Verify a presentation offline and print the result JSON."""
    from verifier import UnknownScene, Verifier, VerifierMisuse
    from verifier.qrimage import decode_qr

    if args.image and args.text is not None:
        raise UsageError("give either TEXT or --image, not both")
    if args.image:
        from verifier.qrimage import MAX_IMAGE_BYTES

        try:
            with open(args.image, "rb") as fh:
                image = fh.read(MAX_IMAGE_BYTES + 1)
        except OSError as err:
            raise UsageError(f"cannot read {args.image}: {err.strerror}") from err
        try:
            text = decode_qr(image)
        except EcertError as err:
            raise UsageError(err.message) from err
    else:
        text = _read_text(args.text)
    anchor = _read_json_file(args.anchor)
    clock = (lambda: float(args.now)) if args.now is not None else time.time
    with contextlib.ExitStack() as stack:
        replay = None
        if args.replay_db:
            from store.sqlite import SQLiteStore

            replay = _StoreNonces(
                stack.enter_context(contextlib.closing(SQLiteStore(args.replay_db)))
            )
        try:
            verifier = Verifier.from_bundle_file(
                args.bundle,
                anchor=anchor,
                clock=clock,
                replay=replay,
                history=_state_of(args.bundle, readonly=True),
            )
        except VerifierMisuse as err:
            raise UsageError(err.message) from err
        scene = args.scene or _scene_from_presentation(text)
        if scene is None:
            raise UsageError(f"no --scene given; known scenes: {', '.join(verifier.scenes)}")
        try:
            result = verifier.verify(text, scene)
        except UnknownScene as err:
            known = ", ".join(verifier.scenes)
            raise UsageError(f"{err.message}; known scenes: {known}") from err
    _print_json(result.to_dict(), indent=None)
    return EXIT_OK if result.valid else EXIT_FAIL


class _StoreNonces:
    """Accepted nonces kept in an SQLite file, so that one QR is accepted once across runs."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def check_and_add(self, nonce: str, expires_at: float, now: float) -> bool:
        import hashlib

        key = "kb-nonce:" + hashlib.sha256(nonce.encode("utf-8")).hexdigest()
        return bool(self._store.remember_nonce(key, expires_at, now))


def _scene_from_presentation(text: str) -> str | None:
    """The (unverified) ``aud`` of the KB-JWT: only a default for ``--scene``."""
    from keys.b64 import b64url_decode

    try:
        payload = text.strip().rsplit("~", 1)[1].split(".")[1]
        aud = loads_object(b64url_decode(payload)).get("aud")
    except (IndexError, EcertError):
        return None
    return aud if isinstance(aud, str) else None


def cmd_qr(args: argparse.Namespace) -> int:
    """Render text (a presentation) as a QR code PNG or SVG."""
    from wallet.qr import qr_version, render_png, render_svg

    text = _read_text(args.text, args.file)
    if args.output.endswith(".svg"):
        data = render_svg(text, level=args.level)
    elif args.output.endswith(".png"):
        data = render_png(text, level=args.level)
    else:
        raise UsageError("the output file must end in .png or .svg")
    _write(args.output, data)
    print(
        f"QR version {qr_version(text, args.level)} at level {args.level}: {args.output}",
        file=sys.stderr,
    )
    return EXIT_OK


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
    inst = _instance(args)
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


def _issue_line(inst: Instance, line: str) -> dict[str, Any]:
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


def cmd_demo(args: argparse.Namespace) -> int:
    """Run the whole story once: issue, present, verify offline, revoke, verify again."""
    from cli.demo import run_demo

    try:
        return run_demo(Path(args.output))
    except FileExistsError as err:
        raise UsageError(str(err)) from err


# -- parser ---------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ecert``."""
    parser = argparse.ArgumentParser(
        prog="ecert", description="Electronic certificates: issue, hold, present, verify."
    )
    parser.add_argument(
        "--instance", help="instance folder (default $ECERT_INSTANCE or ./instance)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=func.__doc__)
        p.set_defaults(func=func)
        return p

    p = add("demo", cmd_demo, "issue, present and verify a sample credential offline")
    p.add_argument("-o", "--output", default="demo-out", help="folder for the demo files")

    p = add("init", cmd_init, "create the instance and the trust anchor")
    p.add_argument("--base-url", help="public base URL (issuer ids are built from it)")

    p = add("types", cmd_types, "list the credential types")
    p.add_argument("--json", action="store_true")

    keys = sub.add_parser("keys", help="trust anchor and signing keys")
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    p = ksub.add_parser("anchor", help="print the anchor's public JWK (create it if needed)")
    p.add_argument("-o", "--output", help="also write it to this file")
    p.set_defaults(func=cmd_keys_anchor)
    p = ksub.add_parser("list", help="list keys and their states")
    p.add_argument("--owner", help="issuer slug, or 'anchor'")
    p.set_defaults(func=cmd_keys_list)
    p = ksub.add_parser("rotate", help="create a pending key for an issuer slug or 'anchor'")
    p.add_argument("owner")
    p.add_argument("--alg", choices=["ES256", "EdDSA"], default="ES256")
    p.set_defaults(func=cmd_keys_rotate)
    for name, state in (
        ("activate", KeyState.ACTIVE),
        ("retire", KeyState.RETIRED),
        ("compromise", KeyState.COMPROMISED),
    ):
        p = ksub.add_parser(name, help=f"move a key to {state.value}")
        p.add_argument("kid")
        p.set_defaults(func=_set_state(state))

    iss = sub.add_parser("issuer", help="departments that issue")
    isub = iss.add_subparsers(dest="issuer_command", required=True, metavar="ACTION")
    p = isub.add_parser("add", help="register a department")
    p.add_argument("slug")
    p.add_argument("--zh", required=True, help="Chinese name")
    p.add_argument("--en", required=True, help="English name")
    p.add_argument("--vct", action="append", required=True, help="a type it may issue (repeat)")
    p.add_argument("--alg", choices=["ES256", "EdDSA"], default="ES256")
    p.set_defaults(func=cmd_issuer_add)
    p = isub.add_parser("list", help="list departments")
    p.set_defaults(func=cmd_issuer_list)

    p = sub.add_parser("holder-key", help="create a holder key file (PEM, 0600)")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_holder_new)

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

    bundle = sub.add_parser("bundle", help="verifier bundles")
    bsub = bundle.add_subparsers(dest="bundle_command", required=True, metavar="ACTION")
    p = bsub.add_parser("export", help="write the bundle of this instance")
    p.add_argument("-o", "--output", required=True)
    p.set_defaults(func=cmd_bundle_export)
    p = bsub.add_parser(
        "pull",
        help="download and check a bundle",
        description=cmd_bundle_pull.__doc__,
        epilog="Exit status: 0 saved, 1 the bundle fails the anchor, 2 refused or unusable.",
    )
    p.add_argument("url")
    p.add_argument(
        "-o", "--output", required=True, help="bundle file (its rollback state: FILE.state.json)"
    )
    p.add_argument("--anchor", required=True, help="file with the anchor's public JWK")
    p.add_argument(
        "--allow-older",
        action="store_true",
        help="operator override: save the bundle even if it rolls back, and make its lists "
        "the reference in FILE.state.json",
    )
    p.set_defaults(func=cmd_bundle_pull)

    p = add("present", cmd_present, "make a presentation for a scene")
    p.add_argument("credential", help="file holding the credential (SD-JWT)")
    p.add_argument("--holder", required=True, help="holder key file")
    p.add_argument("--scene", required=True)
    p.add_argument("--bundle", required=True)
    p.add_argument("--anchor", required=True)

    p = add("verify", cmd_verify, "verify a presentation offline")
    p.add_argument("text", nargs="?", help="the scanned text, or - for standard input")
    p.add_argument("--image", help="a PNG/JPEG photo of the QR code")
    p.add_argument(
        "--bundle",
        required=True,
        help="bundle file; FILE.state.json beside it (from 'bundle pull'), if there, is read "
        "to leave out status lists older than ones accepted before",
    )
    p.add_argument("--anchor", required=True, help="file with the anchor's public JWK")
    p.add_argument("--scene", help="scene id (default: the presentation's audience)")
    p.add_argument("--now", type=float, help="verify as of this Unix time")
    p.add_argument("--replay-db", help="SQLite file remembering accepted presentations across runs")

    from cli.admin import add_commands

    add_commands(sub)

    p = add("qr", cmd_qr, "render a QR code")
    p.add_argument("text", nargs="?", help="text, or - for standard input")
    p.add_argument("--file", help="read the text from this file")
    p.add_argument("-o", "--output", required=True, help="output .png or .svg")
    p.add_argument("--level", choices=["L", "M", "Q", "H"], default="M")
    return parser


#: Commands whose last argument is an id that may start with "-" (base64url ids and
#: RFC 7638 kids do one time in 64): argparse would take it for an option.
_ID_LAST = {
    ("revoke",),
    ("suspend",),
    ("reinstate",),
    ("keys", "activate"),
    ("keys", "retire"),
    ("keys", "compromise"),
}


def _protect_ids(argv: list[str]) -> list[str]:
    words: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--instance":
            skip = True  # its value is not a command word
        elif not arg.startswith("-"):
            words.append(arg)
    command = tuple(words[:2]) if words[:1] == ["keys"] else tuple(words[:1])
    last = argv[-1] if argv else ""
    protect = last.startswith("-") and last not in ("-h", "--help", "--") and "--" not in argv
    return [*argv[:-1], "--", last] if command in _ID_LAST and protect else argv


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``ecert`` console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(_protect_ids(list(sys.argv[1:] if argv is None else argv)))
    except SystemExit as exit_:
        return int(exit_.code or 0) and EXIT_USAGE
    try:
        code: int = args.func(args)
    except UsageError as err:
        print(f"ecert: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyStoreError as err:
        print(f"ecert: {err.code}: {err.message}", file=sys.stderr)
        return EXIT_USAGE
    except EcertError as err:
        print(f"ecert: {err.code}: {err.message}", file=sys.stderr)
        return EXIT_USAGE if err.code in _UNUSABLE_INPUT else EXIT_FAIL
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
