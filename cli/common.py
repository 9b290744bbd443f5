"""What every audience's commands share: exit codes, reading input, writing files whole,
printing JSON, opening the instance the settings name, and deprecated spellings."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from keys import SigningKey
from keys.errors import FormatError
from keys.jsonstrict import loads
from service.instance import Ecert
from service.settings import Settings

__all__ = [
    "EXIT_FAIL",
    "EXIT_OK",
    "EXIT_USAGE",
    "MAX_INPUT",
    "Handler",
    "UsageError",
    "deprecated",
    "load_holder",
    "open_ecert",
    "print_json",
    "read_json_file",
    "read_text",
    "settings_of",
    "write_file",
]

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
#: The largest file or standard input a command reads.
MAX_INPUT = 1024 * 1024

#: A command: the parsed arguments in, the exit code out.
Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """Bad arguments or unreadable input: exit code 2."""


def settings_of(args: argparse.Namespace) -> Settings:
    """The settings ``main`` read once (environment, then the flags)."""
    settings: Settings = args.settings
    return settings


def open_ecert(args: argparse.Namespace) -> Ecert:
    """Open the instance the settings name (use it in a ``with`` block)."""
    return Ecert.open(settings_of(args))


#: A command's spelling, or how to spell it from the parsed arguments.
Spelling = str | Callable[[argparse.Namespace], str]


def deprecated(old: Spelling, new: Spelling, run: Handler) -> Handler:
    """A removed spelling kept for one release: one line on stderr naming it and the
    command to use instead, then runs that command. Both are written whole
    (``ecert …``; a callable spells one from the arguments), so the line can be copied."""

    def alias(args: argparse.Namespace) -> int:
        was = old if isinstance(old, str) else old(args)
        use = new if isinstance(new, str) else new(args)
        print(
            f"ecert: '{was}' is deprecated and will be removed in the next release; "
            f"use '{use}' (same arguments)",
            file=sys.stderr,
        )
        return run(args)

    alias.__doc__ = run.__doc__
    return alias


def print_json(value: Any, *, indent: int | None = 2) -> None:
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


def read_json_file(path: str) -> Any:
    """The JSON value in ``path`` (at most :data:`MAX_INPUT` bytes). Raises UsageError."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_INPUT + 1)
    except OSError as err:
        raise UsageError(f"cannot read {path}: {err.strerror}") from err
    if len(data) > MAX_INPUT:
        raise UsageError(f"{path} is too large")
    try:
        return loads(data, max_bytes=MAX_INPUT)
    except FormatError as err:
        raise UsageError(f"{path} is not valid JSON: {err.message}") from err


def read_text(arg: str | None, file: str | None = None) -> str:
    """The text of ``file``, else ``arg``, else standard input (``-`` or none)."""
    if file is not None:
        try:
            return Path(file).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError) as err:
            raise UsageError(f"cannot read {file}") from err
    if arg is None or arg == "-":
        data = sys.stdin.read(MAX_INPUT + 1)
        if len(data) > MAX_INPUT:
            raise UsageError("standard input is too large")
        return data.strip()
    return arg


def write_file(path: str, data: bytes | str, *, private: bool = False) -> None:
    """Write ``data`` to ``path`` whole or not at all: a temporary file beside it, then a
    rename, so that a crash or a full disk never leaves half a bundle or key behind.
    ``private``: mode 0600 (else 0644). Special files (``/dev/stdout``) are written in
    place."""
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


def load_holder(path: str) -> SigningKey:
    """A P-256 holder key from a PEM file. Raises UsageError."""
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
