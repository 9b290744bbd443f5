"""The ``ecert`` command line (DESIGN.md §5): the thin entry.

The commands live by audience: :mod:`cli.operator` (serve, init, keys, departments,
venues, citizens, API keys, exports, demo), :mod:`cli.department` (types, issue,
revoke, suspend…) and :mod:`cli.verifier` (bundle pull, verify, present, qr).
:func:`main` reads the settings once (``ECERT_*``, then ``--instance`` and
``--base-url``) and hands them to the command in ``args.settings``.

Exit codes: 0 success (for ``verify``: valid), 1 a domain failure (for ``verify``:
invalid), 2 bad usage or unreadable input (or unusable settings).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from cli import department, jobs, operator, verifier
from cli.common import EXIT_FAIL, EXIT_USAGE, UsageError
from keys import EcertError
from keys.errors import KeyStoreError
from service.settings import Settings

__all__ = ["build_parser", "main"]

#: Error codes that mean "unusable input" (exit 2), not a domain failure (exit 1).
_UNUSABLE_INPUT = frozenset({"bundle_invalid", "settings_invalid"})


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``ecert``."""
    parser = argparse.ArgumentParser(
        prog="ecert", description="Electronic certificates: issue, hold, present, verify."
    )
    parser.add_argument(
        "--instance", help="instance folder (default $ECERT_INSTANCE or ./instance)"
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    operator.add_commands(sub)
    department.add_commands(sub)
    verifier.add_commands(sub)
    jobs.add_commands(sub)
    bundle = sub.add_parser("bundle", help="verifier bundles: export (operator), pull (venue)")
    bsub = bundle.add_subparsers(dest="bundle_command", required=True, metavar="ACTION")
    operator.add_bundle_commands(bsub)
    verifier.add_bundle_commands(bsub)
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
        # The one reading of the configuration: the environment, then the flags.
        args.settings = Settings.from_env(
            overrides={"INSTANCE": args.instance, "BASE_URL": getattr(args, "base_url", None)}
        )
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
