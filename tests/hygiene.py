"""Log hygiene of the whole test session: every log record, every personal value used.

Two registries, filled while the suite runs, and one check at the end of the session
(``pytest_sessionfinish`` in ``tests/conftest.py``, so it does not depend on which tests
ran or in what order):

- :data:`PERSONAL`: every personal value the suite used. Factories and fixtures add to
  it as they make them (``tests/factory.py``: the claims and subjects it issues and the
  instance secret; ``tests/api_helpers.py``: the demo's citizen ids, passwords, API keys,
  the tokens of every login, the instance secret; ``tests/browser_helpers.py``: the
  served demo's logins); test modules add their own constants with :func:`personal`.
  And :func:`register_at_the_source` (a session fixture of the conftest) registers
  what any test hands to the service: every issued credential's subject and claims,
  every citizen id and password, session token, API key and key-wrapping secret.
- :data:`SESSION_LOGS`: a handler that keeps every log record of the session, installed
  at session start on the root logger and on every logger that does not propagate
  (looked for again before each test), plus the logs of the ``ecert serve`` processes
  the suite starts (gunicorn's stderr, read when each process has stopped) and the
  stderr of CLI subprocesses the tests run.

:func:`find_leaks` searches every kept line for every registered value and for shapes
that are secret whatever their value (:data:`PATTERNS`: JWTs and SD-JWTs, disclosures,
session tokens and API keys, compact QR payloads, resident ID numbers, private keys).

The one known exception (:func:`exempt`): the SD-JWT reference implementation
(``sd_jwt``), a test-only peer of the interoperability tests, logs disclosures at
DEBUG. Its DEBUG records only are skipped, and counted in the report.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest

from cli.seed import CITIZENS
from issuer import CredentialIssuer, IssuedCredential
from keys import KeyWrapper
from service.accounts import Accounts, Session
from service.devices import DeviceNonce, Devices
from store.interface import ApiKeyKind, ApiKeyRecord, CitizenRecord

__all__ = [
    "PATTERNS",
    "PERSONAL",
    "SESSION_LOGS",
    "Leak",
    "LogLine",
    "PersonalValues",
    "SessionLogs",
    "exempt",
    "find_leaks",
    "personal",
    "personal_claims",
    "personal_demo",
    "register_at_the_source",
    "render",
]

#: A registered value shorter than this is not searched for: a two-character name
#: (李四) is personal, one character (男, 汉) is noise in any text.
MIN_LENGTH = 2
#: The same for a value of ASCII characters only: test placeholders such as ``c1`` or
#: ``alice`` are in every other log line; ids, passwords and tokens are longer.
MIN_ASCII_LENGTH = 6

#: The second known exception: ``ecert serve --demo`` prints the demo's logins for the
#: person starting it (documented, and checked by tests/test_service_process.py); its
#: banner is this line and the indented lines right after it, at the top of the log.
DEMO_BANNER = "ecert demo at "

#: Shapes that must never be logged, whatever their value.
PATTERNS: dict[str, re.Pattern[str]] = {
    "a JWT or SD-JWT": re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
    "an SD-JWT disclosure": re.compile(r"(?<![A-Za-z0-9_-])WyJ[A-Za-z0-9_-]{16,}"),
    "a session token or API key": re.compile(r"\b(?:es|ek)_[A-Za-z0-9_-]{20,}"),
    "a compact QR payload": re.compile(r"\bEC\d:[0-9A-Z $%*+./:-]{40,}"),
    "a resident ID number": re.compile(
        r"(?<![0-9A-Za-z])[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])"
        r"\d{3}[0-9Xx](?![0-9A-Za-z])"
    ),
    "a private key (PEM)": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a private JWK": re.compile(r"""["']d["']\s*:\s*["'][A-Za-z0-9_-]{20,}"""),
    # a portrait claim (issue 9): personal whoever it shows, and never a log's business
    "a portrait (image data URL)": re.compile(r"data:image/[a-z+.-]+;base64,[A-Za-z0-9+/]{16,}"),
}

#: A process's time stamp at the head of its log lines: gunicorn's
#: ``[2026-12-04 00:00:28 +0000]`` and the logging module's ``2026-12-04 00:10:29,113``.
_STAMP = re.compile(
    r"^(?:\[\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} [+-]\d{4}\]"
    r"|\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) "
)

#: Attributes every LogRecord has; any other attribute came from ``extra=`` and is kept.
_STANDARD = frozenset(vars(logging.LogRecord("x", logging.INFO, "x", 0, "", None, None))) | {
    "message",
    "asctime",
}

T = TypeVar("T")
C = TypeVar("C", bound=Mapping[str, object])


class PersonalValues:
    """Every personal value the suite used, each with what it is (for the report)."""

    def __init__(self) -> None:
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def add(self, value: object, kind: str) -> None:
        """Register ``value`` (a string; anything else is not searchable text)."""
        if not isinstance(value, str) or len(value) < MIN_LENGTH:
            return
        if value.isascii() and len(value) < MIN_ASCII_LENGTH:
            return
        with self._lock:
            self._values.setdefault(value, kind)

    def add_claims(self, claims: Mapping[str, object], kind: str = "claim") -> None:
        """Register every string in ``claims``, nested objects and arrays included."""
        for name, value in claims.items():
            self._add_nested(value, f"{kind} {name}")

    def _add_nested(self, value: object, kind: str) -> None:
        if isinstance(value, Mapping):
            self.add_claims(value, kind)
        elif isinstance(value, list | tuple):
            for item in value:
                self._add_nested(item, kind)
        else:
            self.add(value, kind)

    def snapshot(self) -> dict[str, str]:
        """The registered values, each mapped to its kind."""
        with self._lock:
            return dict(self._values)

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)


@dataclass(frozen=True)
class LogLine:
    """One kept log record (or one line of a process's log), rendered as text."""

    source: str
    text: str


@dataclass(frozen=True)
class Leak:
    """A personal value or a secret shape found in a log line."""

    source: str
    what: str
    found: str
    excerpt: str

    def describe(self) -> str:
        return f"{self.source}: {self.what} {self.found!r} in {self.excerpt!r}"


def exempt(record: logging.LogRecord) -> bool:
    """The known exception: DEBUG records of the SD-JWT reference implementation."""
    from_reference = record.name == "sd_jwt" or record.name.startswith("sd_jwt.")
    return from_reference and record.levelno <= logging.DEBUG


def render(record: logging.LogRecord) -> str:
    """Everything of ``record`` that a handler could write: message, traceback, extras."""
    try:
        parts = [record.getMessage()]
    except Exception:  # a broken log call must not break the suite; its parts still count
        parts = [f"unformattable: {record.msg!r} % {record.args!r}"]
    if record.exc_info:
        parts.append(logging.Formatter().formatException(record.exc_info))
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    parts += [f"{k}={v!r}" for k, v in vars(record).items() if k not in _STANDARD]
    return "\n".join(parts)


class SessionLogs(logging.Handler):
    """Keeps every log record it receives, and the logs of processes the tests ran."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self._lines: list[LogLine] = []
        # Reentrant: a record can arrive while this thread holds the lock, when the
        # garbage collector finalises an object that logs (an asyncio future whose
        # exception nobody read logs it from its __del__) in the middle of a list being
        # built here; a plain Lock deadlocked the whole suite on that once.
        self._guard = threading.RLock()
        self.exempted = 0  # lines of the demo banner
        self.exempted_debug = 0  # DEBUG records of sd_jwt

    def emit(self, record: logging.LogRecord) -> None:
        if exempt(record):
            with self._guard:
                self.exempted_debug += 1
            return
        line = LogLine(f"log {record.name} {record.levelname}", render(record))
        with self._guard:
            self._lines.append(line)

    def attach(self) -> list[str]:
        """Install on the root logger and on every logger that does not propagate.

        Idempotent; returns the names of the loggers it was newly installed on.
        """
        installed = []
        root = logging.getLogger()
        if self not in root.handlers:
            root.addHandler(self)
            installed.append("root")
        if root.level == logging.NOTSET or root.level > logging.DEBUG:
            root.setLevel(logging.DEBUG)
        for name, logger in list(logging.Logger.manager.loggerDict.items()):
            if not isinstance(logger, logging.Logger) or logger.propagate:
                continue  # a placeholder, or a logger whose records reach the root
            if self not in logger.handlers:
                logger.addHandler(self)
                installed.append(name)
        return installed

    def add_text(self, source: str, text: str) -> None:
        """Keep the log of a process (gunicorn's stderr, a CLI's), line by line, without
        the time stamp at the head of a line (:data:`_STAMP`): the process's clock, not
        data, and a date claim near today (a validity end) would match it."""
        lines = [LogLine(source, _STAMP.sub("", line)) for line in text.splitlines() if line]
        with self._guard:
            self._lines += lines

    def add_file(self, path: Path, source: str) -> None:
        """Keep the log file a process wrote (read now: call it once the process stopped)."""
        if path.exists():
            self.add_text(source, path.read_bytes().decode("utf-8", errors="replace"))

    def add_serve_log(self, path: Path) -> None:
        """Keep the log of an ``ecert serve --demo`` process, without its demo banner."""
        if not path.exists():
            return
        lines = path.read_bytes().decode("utf-8", errors="replace").splitlines()
        kept = []
        in_banner = False
        for line in lines:
            if line.startswith(DEMO_BANNER) and not in_banner:
                in_banner = True
                continue
            if in_banner and line.startswith("  "):
                with self._guard:
                    self.exempted += 1
                continue
            in_banner = False
            kept.append(line)
        self.add_text("ecert serve (gunicorn) log", "\n".join(kept))

    def mark(self) -> int:
        """A position in the kept lines, for :meth:`since` and :meth:`drop_since`."""
        with self._guard:
            return len(self._lines)

    def since(self, mark: int) -> list[LogLine]:
        """The lines kept after ``mark``."""
        with self._guard:
            return self._lines[mark:]

    def drop_since(self, mark: int, planted: str) -> int:
        """Forget the lines kept after ``mark`` that hold ``planted`` (a self-test's leak).

        Returns how many were forgotten.
        """
        with self._guard:
            kept = [line for line in self._lines[mark:] if planted not in line.text]
            dropped = len(self._lines) - mark - len(kept)
            self._lines[mark:] = kept
        return dropped

    def lines(self) -> list[LogLine]:
        """Every line kept so far."""
        return self.since(0)


def find_leaks(lines: Iterable[LogLine], values: Mapping[str, str]) -> list[Leak]:
    """Every registered value and every :data:`PATTERNS` shape found in ``lines``."""
    lines = list(lines)
    # Thousands of values over a session's logs: each value is looked for once in the
    # whole text (at C speed), and in each line only if it is there at all.
    whole = "\n".join(line.text for line in lines)
    present = [value for value in values if value in whole and _found(value, whole)]
    leaks = []
    for line in lines:
        hits = [
            (values[v], v, line.text.find(v))
            for v in present
            if v in line.text and _found(v, line.text)
        ]
        for what, pattern in PATTERNS.items():
            hits += [(what, m.group(), m.start()) for m in pattern.finditer(line.text)]
        for what, found, start in hits:
            excerpt = line.text[max(0, start - 60) : start + len(found) + 60]
            leaks.append(Leak(line.source, what, found, excerpt.replace("\n", " ")))
    return leaks


def _found(value: str, text: str) -> bool:
    """Whether ``value`` stands in ``text`` as a value of its own.

    A value of ASCII letters and digits counts only where no letter or digit touches it:
    a password ``123456`` inside the random request id ``8f6f4eb12345662e`` is chance,
    not a leak; ``password=123456`` is one. Other values (names in Chinese, tokens with
    punctuation) count wherever they stand.
    """
    if not (value.isascii() and value.isalnum()):
        return True
    edge = r"(?<![A-Za-z0-9])" + re.escape(value) + r"(?![A-Za-z0-9])"
    return re.search(edge, text) is not None


PERSONAL = PersonalValues()
SESSION_LOGS = SessionLogs()


def personal(value: T, kind: str) -> T:
    """Register ``value`` as personal (a name, an id, a password, a token…); return it."""
    PERSONAL.add(value, kind)
    return value


def personal_claims(claims: C, kind: str = "claim") -> C:
    """Register every string of a claims object; return it unchanged."""
    PERSONAL.add_claims(claims, kind)
    return claims


def personal_demo(logins: Mapping[str, object]) -> None:
    """Register what a seeded demo holds: logins (``demo.json``) and the citizens' claims."""
    for section, field, kind in (
        ("citizens", "citizen_id", "demo citizen id"),
        ("citizens", "password", "demo password"),
        ("departments", "api_key", "demo department API key"),
        ("venues", "api_key", "demo venue API key"),
        ("operators", "api_key", "demo operator API key"),
    ):
        entries = logins.get(section, [])
        assert isinstance(entries, list)
        for entry in entries:
            PERSONAL.add(entry.get(field), kind)
    for citizen in CITIZENS:
        PERSONAL.add(citizen["citizen_id"], "demo citizen id")
        for _, _, claims in citizen["credentials"]:
            PERSONAL.add_claims(claims, "demo claim")


def register_at_the_source(mp: pytest.MonkeyPatch) -> None:
    """Register personal values where the code under test receives or makes them.

    Fixtures register what they make, but tests also pass their own claims, citizen ids
    and passwords straight to the service. These wrappers (the calls go through
    unchanged) register every credential's subject and claims as it is issued, every
    citizen id and password an account is made with, every session token and API key
    handed out, and every key-wrapping secret, whichever test or fixture it came from.
    """
    issue = CredentialIssuer.issue

    def issuing(
        self: CredentialIssuer,
        iss: str,
        vct: str,
        *,
        subject: str,
        claims: Mapping[str, object],
        holder_jwk: Mapping[str, object],
        decoys: int | None = None,
        not_after: int | None = None,
        credential_id: str | None = None,
    ) -> IssuedCredential:
        personal(subject, "an issued credential's subject")
        PERSONAL.add_claims(claims, f"a claim of {vct}:")
        return issue(
            self,
            iss,
            vct,
            subject=subject,
            claims=claims,
            holder_jwk=holder_jwk,
            decoys=decoys,
            not_after=not_after,
            credential_id=credential_id,
        )

    create_citizen = Accounts.create_citizen

    def creating(self: Accounts, citizen_id: str, password: str | None = None) -> CitizenRecord:
        personal(citizen_id, "a citizen id")
        personal(password, "a citizen's password")
        return create_citizen(self, citizen_id, password)

    set_password = Accounts.set_password

    def setting(self: Accounts, citizen_id: str, password: str) -> None:
        personal(password, "a citizen's password")
        set_password(self, citizen_id, password)

    login = Accounts.login

    def logging_in(self: Accounts, citizen_id: str, password: str, *, client: str) -> Session:
        personal(citizen_id, "a citizen id")
        personal(password, "a citizen's password")
        session = login(self, citizen_id, password, client=client)
        personal(session.access_token, "a session token")
        return session

    issue_api_key = Accounts.issue_api_key

    def keying(self: Accounts, kind: ApiKeyKind, principal: str) -> tuple[ApiKeyRecord, str]:
        record, secret = issue_api_key(self, kind, principal)
        personal(secret, f"a {kind} API key")
        return record, secret

    rotate_api_key = Accounts.rotate_api_key

    def rotating(self: Accounts, key_id: str) -> tuple[ApiKeyRecord, str]:
        record, secret = rotate_api_key(self, key_id)
        personal(secret, f"a {record.kind} API key")
        return record, secret

    device_nonce = Devices.nonce

    def nonce_giving(self: Devices, citizen_id: str, session: str) -> DeviceNonce:
        given = device_nonce(self, citizen_id, session)
        personal(given.c_nonce, "a device key proof's nonce")
        return given

    wrapper_init = KeyWrapper.__init__

    def wrapping(self: KeyWrapper, secret: str | bytes | None) -> None:
        personal(secret, "a key-wrapping secret")
        wrapper_init(self, secret)

    mp.setattr(CredentialIssuer, "issue", issuing)
    mp.setattr(Accounts, "create_citizen", creating)
    mp.setattr(Accounts, "set_password", setting)
    mp.setattr(Accounts, "login", logging_in)
    mp.setattr(Accounts, "issue_api_key", keying)
    mp.setattr(Accounts, "rotate_api_key", rotating)
    mp.setattr(KeyWrapper, "__init__", wrapping)
    mp.setattr(Devices, "nonce", nonce_giving)
