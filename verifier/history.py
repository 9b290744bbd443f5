"""What a verifier remembers of the status lists it accepted: the rollback guard.

IETF Token Status List (security considerations, "rollback"): a verifier that has
accepted a status list never accepts, for the same list, one with an older ``iat``:
an older list, still validly signed and not yet expired, would hide every revocation
made since. An equal ``iat`` must carry the same signed content.

Lists are keyed by ``(iss, uri)``, as in :class:`verifier.bundle.Bundle`. A
:class:`StatusMark` is the list's ``iat`` and the SHA-256 of its signed payload (its
base64url text): two signatures over one payload (ES256 signatures are randomised)
are the same list; two payloads with one ``iat`` are not.

* :class:`MemoryStatusHistory` — the default of :class:`~verifier.Verifier`: it lasts as
  long as the object (share one between verifiers of one process).
* :class:`FileStatusHistory` — a JSON state file that survives restarts (``ecert
  bundle pull`` and ``ecert verify`` use ``FILE.state.json`` beside the bundle).

The same guard holds for the **trust list**, keyed by its anchor (``trust.iss``): an
older trust list, still validly signed by the anchor and not yet expired, would bring
back a revoked key (``revoked_kids``) or a removed issuer. Its mark (the same
:class:`StatusMark`: ``iat`` and payload digest) is kept apart from the status lists'
(:meth:`StatusHistory.newest_trust_list`; the state file's ``"trust_lists"`` array), so a
status list can never stand for a trust list or the other way round. Trust-list marks
are never forgotten (there is one per anchor).

Accepting is recording: the verifier records the marks of the lists of a bundle, and
of its trust list, when it accepts the bundle (builds a :class:`~verifier.Verifier`),
never before, in one :meth:`StatusHistory.record` call.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from hashlib import sha256
from pathlib import Path
from typing import Protocol

from keys import EcertError
from keys.jsonstrict import dumps_compact, loads_object
from verifier.errors import StatusHistoryInvalid

#: A status list's ``exp`` may lie at most this far after its ``iat`` (one year). So a
#: mark older than this cannot guard anything any more: every list older than it has
#: expired. Marks are forgotten then.
MAX_STATUS_LIFETIME = 366 * 24 * 3600
#: Most lists a history remembers; recording more is refused (never forgotten).
MAX_ENTRIES = 65_536
#: Largest state file read, in bytes.
MAX_STATE_BYTES = 16 * 1024 * 1024
#: Longest ``iss`` or ``uri`` remembered.
MAX_NAME = 2048
#: Most anchors whose newest trust list a history remembers.
MAX_TRUST_LISTS = 1024
#: The state file's format version (2 added ``"trust_lists"``; version 1 is still read).
STATE_VERSION = 2
#: Versions of the state file that are read.
READ_VERSIONS = (1, 2)


@dataclass(frozen=True, slots=True)
class StatusMark:
    """The newest accepted list for one ``(iss, uri)``: its ``iat`` and payload digest."""

    iat: int
    digest: str


def payload_digest(payload_segment: str | bytes) -> str:
    """``sha256:<hex>`` of a JWS payload segment (its base64url text)."""
    raw = payload_segment.encode("ascii") if isinstance(payload_segment, str) else payload_segment
    return "sha256:" + sha256(raw).hexdigest()


def rollback_reason(iss: str, uri: str, seen: StatusMark | None, new: StatusMark) -> str | None:
    """Why ``new`` may not replace ``seen`` (a rollback), or None when it may."""
    if seen is None:
        return None
    if new.iat < seen.iat:
        return (
            f"status list {uri} of {iss} rolled back: iat {new.iat} older than {seen.iat} "
            "already accepted"
        )
    if new.iat == seen.iat and new.digest != seen.digest:
        return (
            f"status list {uri} of {iss} rolled back: iat {new.iat} already accepted "
            "with different content"
        )
    return None


def trust_rollback_reason(anchor_iss: str, seen: StatusMark | None, new: StatusMark) -> str | None:
    """Why the trust list ``new`` of ``anchor_iss`` may not replace ``seen``, or None."""
    if seen is None:
        return None
    if new.iat < seen.iat:
        return (
            f"the trust list of {anchor_iss} rolled back: iat {new.iat} older than {seen.iat} "
            "already accepted"
        )
    if new.iat == seen.iat and new.digest != seen.digest:
        return (
            f"the trust list of {anchor_iss} rolled back: iat {new.iat} already accepted "
            "with different content"
        )
    return None


class StatusHistory(Protocol):
    """The newest accepted mark of every status list a verifier has seen."""

    def newest(self, iss: str, uri: str) -> StatusMark | None:
        """The newest mark accepted for ``(iss, uri)``, or None if never seen."""
        ...

    def newest_trust_list(self, anchor_iss: str) -> StatusMark | None:
        """The newest trust-list mark accepted for the anchor ``anchor_iss``, or None."""
        ...

    def record(
        self,
        marks: Mapping[tuple[str, str], StatusMark],
        now: float,
        *,
        trust_lists: Mapping[str, StatusMark] | None = None,
    ) -> None:
        """Remember ``marks`` (of lists just accepted) and ``trust_lists`` (trust-list
        marks by anchor ``iss``), keeping the newer of old and new.

        Never moves a mark backwards. Raises
        :class:`~verifier.errors.StatusHistoryInvalid` when it cannot remember them.
        """
        ...


@dataclass(frozen=True, slots=True)
class _State:
    """Everything a history holds: status-list marks and trust-list marks."""

    status_lists: dict[tuple[str, str], StatusMark]
    trust_lists: dict[str, StatusMark]


def _merge(
    entries: dict[tuple[str, str], StatusMark],
    marks: Mapping[tuple[str, str], StatusMark],
    now: float,
) -> None:
    for key, mark in marks.items():
        iss, uri = key
        if len(iss) > MAX_NAME or len(uri) > MAX_NAME:
            raise StatusHistoryInvalid("a status list iss or uri is too long to remember")
        seen = entries.get(key)
        if seen is None or mark.iat > seen.iat:
            entries[key] = mark
    for key in [k for k, m in entries.items() if m.iat + MAX_STATUS_LIFETIME < now]:
        del entries[key]
    if len(entries) > MAX_ENTRIES:
        raise StatusHistoryInvalid(f"the status history would hold more than {MAX_ENTRIES} lists")


def _merge_trust(entries: dict[str, StatusMark], marks: Mapping[str, StatusMark]) -> None:
    for anchor_iss, mark in marks.items():
        if not anchor_iss or len(anchor_iss) > MAX_NAME:
            raise StatusHistoryInvalid("a trust list iss is empty or too long to remember")
        seen = entries.get(anchor_iss)
        if seen is None or mark.iat > seen.iat:
            entries[anchor_iss] = mark
    if len(entries) > MAX_TRUST_LISTS:
        raise StatusHistoryInvalid(
            f"the status history would hold more than {MAX_TRUST_LISTS} trust lists"
        )


class MemoryStatusHistory:
    """The in-process default; thread-safe."""

    def __init__(
        self,
        marks: Mapping[tuple[str, str], StatusMark] | None = None,
        *,
        trust_lists: Mapping[str, StatusMark] | None = None,
    ) -> None:
        self._entries: dict[tuple[str, str], StatusMark] = dict(marks or {})
        self._trust: dict[str, StatusMark] = dict(trust_lists or {})
        self._lock = threading.Lock()

    def newest(self, iss: str, uri: str) -> StatusMark | None:
        """See :meth:`StatusHistory.newest`."""
        return self._entries.get((iss, uri))

    def newest_trust_list(self, anchor_iss: str) -> StatusMark | None:
        """See :meth:`StatusHistory.newest_trust_list`."""
        return self._trust.get(anchor_iss)

    def record(
        self,
        marks: Mapping[tuple[str, str], StatusMark],
        now: float,
        *,
        trust_lists: Mapping[str, StatusMark] | None = None,
    ) -> None:
        """See :meth:`StatusHistory.record`."""
        with self._lock:
            merged = dict(self._entries)
            trust = dict(self._trust)
            _merge(merged, marks, now)
            _merge_trust(trust, trust_lists or {})
            self._entries, self._trust = merged, trust

    def marks(self) -> dict[tuple[str, str], StatusMark]:
        """A copy of every remembered status-list mark."""
        return dict(self._entries)

    def trust_marks(self) -> dict[str, StatusMark]:
        """A copy of every remembered trust-list mark, by anchor ``iss``."""
        return dict(self._trust)


class FileStatusHistory:
    """A history kept in a JSON state file (mode 0600), written atomically.

    ``{"version": 2, "status_lists": [{"iss", "uri", "iat", "digest"}, …],
    "trust_lists": [{"iss", "iat", "digest"}, …]}`` (a version-1 file, without
    ``"trust_lists"``, is still read; it is written back as version 2). The file
    is read when the object is made; a missing file is an empty history. A file that
    is not exactly this shape raises :class:`~verifier.errors.StatusHistoryInvalid`:
    a corrupt history is refused, never silently forgotten (forgetting would let a
    rolled-back list in). Writes go to a temporary file in the same folder, are
    flushed to disk and then renamed over the state file; each write first merges
    what the file holds by then, under an advisory lock on ``<path>.lock``.

    With ``readonly`` the file is never written: :meth:`record` only updates this
    object's copy (``ecert verify`` uses it so).
    """

    def __init__(self, path: str | Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        state = read_state(self.path)
        self._memory = MemoryStatusHistory(state.status_lists, trust_lists=state.trust_lists)
        self._lock = threading.Lock()

    def newest(self, iss: str, uri: str) -> StatusMark | None:
        """See :meth:`StatusHistory.newest`."""
        return self._memory.newest(iss, uri)

    def newest_trust_list(self, anchor_iss: str) -> StatusMark | None:
        """See :meth:`StatusHistory.newest_trust_list`."""
        return self._memory.newest_trust_list(anchor_iss)

    def record(
        self,
        marks: Mapping[tuple[str, str], StatusMark],
        now: float,
        *,
        trust_lists: Mapping[str, StatusMark] | None = None,
    ) -> None:
        """See :meth:`StatusHistory.record`; writes the state file unless ``readonly``."""
        if self.readonly:
            self._memory.record(marks, now, trust_lists=trust_lists)
            return
        with self._lock, _file_lock(self.path):
            state = read_state(self.path)
            _merge(state.status_lists, self._memory.marks(), now)
            _merge(state.status_lists, marks, now)
            _merge_trust(state.trust_lists, self._memory.trust_marks())
            _merge_trust(state.trust_lists, trust_lists or {})
            write_state_file(self.path, state.status_lists, trust_lists=state.trust_lists)
            self._memory = MemoryStatusHistory(state.status_lists, trust_lists=state.trust_lists)

    def marks(self) -> dict[tuple[str, str], StatusMark]:
        """A copy of every remembered status-list mark."""
        return self._memory.marks()

    def trust_marks(self) -> dict[str, StatusMark]:
        """A copy of every remembered trust-list mark, by anchor ``iss``."""
        return self._memory.trust_marks()


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX: one writer at a time is assumed
        yield
        return
    try:
        fd = os.open(f"{path}.lock", os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as err:
        raise StatusHistoryInvalid(
            f"cannot lock the status history {path}: {err.strerror}"
        ) from err
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_state_file(path: str | Path) -> dict[tuple[str, str], StatusMark]:
    """The status-list marks of a state file; empty if it does not exist.

    Raises :class:`~verifier.errors.StatusHistoryInvalid` for anything else than a
    well-formed state file.
    """
    return read_state(path).status_lists


def read_trust_marks(path: str | Path) -> dict[str, StatusMark]:
    """The trust-list marks of a state file, by anchor ``iss``; empty if none.

    Raises :class:`~verifier.errors.StatusHistoryInvalid` like :func:`read_state_file`.
    """
    return read_state(path).trust_lists


def read_state(path: str | Path) -> _State:
    """Both parts of a state file; empty if it does not exist.

    Raises :class:`~verifier.errors.StatusHistoryInvalid` for anything else than a
    well-formed state file (version 1 or 2).
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_STATE_BYTES + 1)
    except FileNotFoundError:
        return _State({}, {})
    except OSError as err:
        raise StatusHistoryInvalid(
            f"cannot read the status history {path}: {err.strerror}"
        ) from err
    if len(data) > MAX_STATE_BYTES:
        raise StatusHistoryInvalid(f"the status history {path} is too large")
    try:
        state = loads_object(data)
    except (EcertError, RecursionError, UnicodeDecodeError, ValueError):
        raise StatusHistoryInvalid(f"the status history {path} is not a JSON object") from None
    return _parse_state(state, path)


def _parse_state(state: dict[str, object], path: str | Path) -> _State:
    def bad(why: str) -> StatusHistoryInvalid:
        return StatusHistoryInvalid(f"the status history {path} is corrupt: {why}")

    version = state.get("version")
    if not isinstance(version, int) or isinstance(version, bool) or version not in READ_VERSIONS:
        raise bad(f"'version' must be one of {', '.join(map(str, READ_VERSIONS))}")
    expected = {"version", "status_lists"} | ({"trust_lists"} if version == 2 else set())
    if set(state) != expected:
        raise bad(f"version {version} holds exactly {', '.join(map(repr, sorted(expected)))}")
    items = state["status_lists"]
    if not isinstance(items, list) or len(items) > MAX_ENTRIES:
        raise bad(f"'status_lists' must be an array of at most {MAX_ENTRIES} entries")
    marks: dict[tuple[str, str], StatusMark] = {}
    for item in items:
        if not isinstance(item, dict) or set(item) != {"iss", "uri", "iat", "digest"}:
            raise bad("each entry needs exactly 'iss', 'uri', 'iat' and 'digest'")
        iss, uri, iat, digest = item["iss"], item["uri"], item["iat"], item["digest"]
        if not (isinstance(iss, str) and isinstance(uri, str) and iss and uri):
            raise bad("'iss' and 'uri' must be non-empty strings")
        if len(iss) > MAX_NAME or len(uri) > MAX_NAME:
            raise bad("an 'iss' or 'uri' is too long")
        if not isinstance(iat, int) or isinstance(iat, bool) or abs(iat) > 2**53:
            raise bad("'iat' must be an integer")
        if not _is_digest(digest):
            raise bad("'digest' must be 'sha256:' and 64 lowercase hex digits")
        if (iss, uri) in marks:
            raise bad("a status list appears twice")
        marks[iss, uri] = StatusMark(iat, str(digest))
    return _State(marks, _parse_trust_lists(state.get("trust_lists", []), bad))


def _parse_trust_lists(
    items: object, bad: Callable[[str], StatusHistoryInvalid]
) -> dict[str, StatusMark]:
    if not isinstance(items, list) or len(items) > MAX_TRUST_LISTS:
        raise bad(f"'trust_lists' must be an array of at most {MAX_TRUST_LISTS} entries")
    trust: dict[str, StatusMark] = {}
    for item in items:
        if not isinstance(item, dict) or set(item) != {"iss", "iat", "digest"}:
            raise bad("each trust list entry needs exactly 'iss', 'iat' and 'digest'")
        iss, iat, digest = item["iss"], item["iat"], item["digest"]
        if not isinstance(iss, str) or not iss or len(iss) > MAX_NAME:
            raise bad("a trust list 'iss' must be a non-empty string, not too long")
        if not isinstance(iat, int) or isinstance(iat, bool) or abs(iat) > 2**53:
            raise bad("a trust list 'iat' must be an integer")
        if not _is_digest(digest):
            raise bad("a trust list 'digest' must be 'sha256:' and 64 lowercase hex digits")
        if iss in trust:
            raise bad("a trust list appears twice")
        trust[iss] = StatusMark(iat, str(digest))
    return trust


def _is_digest(value: object) -> bool:
    if not isinstance(value, str) or not value.startswith("sha256:") or len(value) != 71:
        return False
    return all(c in "0123456789abcdef" for c in value[7:])


def write_state_file(
    path: str | Path,
    marks: Mapping[tuple[str, str], StatusMark],
    *,
    trust_lists: Mapping[str, StatusMark] | None = None,
) -> None:
    """Write ``marks`` and ``trust_lists`` atomically (temporary file, fsync, rename),
    mode 0600, as a version-2 state file.

    Raises :class:`~verifier.errors.StatusHistoryInvalid` when it cannot be written.
    """
    path = Path(path)
    items = [
        {"iss": iss, "uri": uri, "iat": m.iat, "digest": m.digest}
        for (iss, uri), m in sorted(marks.items())
    ]
    trust = [
        {"iss": iss, "iat": m.iat, "digest": m.digest}
        for iss, m in sorted((trust_lists or {}).items())
    ]
    state = {"version": STATE_VERSION, "status_lists": items, "trust_lists": trust}
    data = (dumps_compact(state) + "\n").encode()
    folder = path.parent if str(path.parent) else Path(".")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    except OSError as err:
        raise StatusHistoryInvalid(
            f"cannot write the status history {path}: {err.strerror}"
        ) from err
    try:
        with os.fdopen(fd, "wb") as fh:  # mkstemp creates the file with mode 0600
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as err:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise StatusHistoryInvalid(
            f"cannot write the status history {path}: {err.strerror}"
        ) from err
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
