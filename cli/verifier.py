"""A verifier's (and a holder's) commands: offline checks with a bundle.

``ecert bundle pull`` (download, check against the pinned anchor, refuse rollbacks),
``ecert verify`` (offline, from text or a photo of the QR code), ``ecert present`` (a
holder's presentation for a scene) and ``ecert qr`` (render a QR code). Nothing here
opens the instance: these run on a venue's or citizen's machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cli.common import (
    EXIT_FAIL,
    EXIT_OK,
    UsageError,
    load_holder,
    print_json,
    read_json_file,
    read_text,
    write_file,
)
from keys import EcertError
from keys.errors import FormatError
from keys.jsonstrict import loads_object

__all__ = ["add_bundle_commands", "add_commands"]


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

    anchor = read_json_file(args.anchor)
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
    write_file(args.output, json.dumps(bundle) + "\n")
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

    credential = read_text(None, args.credential)
    bundle = load_bundle(read_bundle_file(args.bundle), read_json_file(args.anchor))
    scene = bundle.trust_list.scenes.get(args.scene)
    if scene is None:
        raise UsageError(f"unknown scene {args.scene!r}; known: {sorted(bundle.trust_list.scenes)}")
    wallet = Wallet(load_holder(args.holder))
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
        text = read_text(args.text)
    anchor = read_json_file(args.anchor)
    clock = (lambda: float(args.now)) if args.now is not None else time.time
    with contextlib.ExitStack() as stack:
        replay = None
        if args.replay_db:
            from service.verification import StoreNonceCache
            from store.sqlite import SQLiteStore

            # The service's one nonce cache, over an SQLite file of its own.
            replay = StoreNonceCache(
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
    print_json(result.to_dict(), indent=None)
    return EXIT_OK if result.valid else EXIT_FAIL


def _scene_from_presentation(text: str) -> str | None:
    """The (unverified) ``aud`` of the KB-JWT: only a default for ``--scene``."""
    from keys.b64 import b64url_decode
    from sdjwt.qr_transport import decode_compact, is_compact

    try:
        text = text.strip()
        if is_compact(text):  # the compact QR transport (EC1:…) the wallets show
            text = decode_compact(text)
        payload = text.rsplit("~", 1)[1].split(".")[1]
        aud = loads_object(b64url_decode(payload)).get("aud")
    except (IndexError, EcertError):
        return None
    return aud if isinstance(aud, str) else None


def cmd_qr(args: argparse.Namespace) -> int:
    """Render text (a presentation) as a QR code PNG or SVG."""
    from wallet.qr import qr_version, render_png, render_svg

    text = read_text(args.text, args.file)
    if args.output.endswith(".svg"):
        data = render_svg(text, level=args.level)
    elif args.output.endswith(".png"):
        data = render_png(text, level=args.level)
    else:
        raise UsageError("the output file must end in .png or .svg")
    write_file(args.output, data)
    print(
        f"QR version {qr_version(text, args.level)} at level {args.level}: {args.output}",
        file=sys.stderr,
    )
    return EXIT_OK


# -- parsers --------------------------------------------------------------------------


def add_bundle_commands(bsub: Any) -> None:
    """``ecert bundle pull`` (the ``bundle`` group is shared with the operator's export)."""
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


def add_commands(sub: Any) -> None:
    """Register the verifier's and holder's commands on the ``ecert`` parser."""

    def add(
        name: str, func: Callable[[argparse.Namespace], int], help_: str
    ) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = sub.add_parser(name, help=help_, description=func.__doc__)
        p.set_defaults(func=func)
        return p

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

    p = add("qr", cmd_qr, "render a QR code")
    p.add_argument("text", nargs="?", help="text, or - for standard input")
    p.add_argument("--file", help="read the text from this file")
    p.add_argument("-o", "--output", required=True, help="output .png or .svg")
    p.add_argument("--level", choices=["L", "M", "Q", "H"], default="M")
