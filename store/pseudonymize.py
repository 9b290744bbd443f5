"""Move an instance made before pseudonyms to pseudonymous citizens, in place, once.

Before pseudonyms the store kept the citizen id (a resident ID number) in clear: SQLite
tables ``citizens``, ``wallets``, ``wallet_items``, ``activity``, ``credentials.subject``
and ``sessions``; Redis keys ``{sub:<id>}:*``, the set ``{citizens}:ids``, the
``subject`` of each credential record and each session record. :func:`pseudonymize`
rewrites all of them: a citizen's records move to the pseudonym, a session's citizen id
is sealed. It runs when an instance is opened (``service.instance.open_instance``) and
records that it is done in the config value :data:`MARKER`, so it runs at most once
to the end.

Built for a city (10 million citizens): ids are *discovered* as a stream, in batches,
never collected, so memory is bounded by one batch whatever the size of the store; the
state of the move is the data itself (a clear id left is a citizen not yet moved), so a
crash at any point is resumed by the next open, which finds what is left. Progress is
logged (logger ``ecert.store.pseudonymize``) as counts only, never an id.

* **SQLite**: keyset pagination over each table's citizen-id index (``WHERE id > last
  ORDER BY id LIMIT n``, pseudonyms skipped in SQL), :data:`SQLITE_BATCH` citizens
  moved per ``BEGIN IMMEDIATE`` transaction over every table at once (through a
  mapping table in memory, ``temp_store = MEMORY``, so no clear id reaches a temporary
  file); the sessions the same way by token hash. Deleted content is overwritten
  (``secure_delete``), then the file is rebuilt (``VACUUM``, through a temporary file:
  free disk the size of the database in SQLite's temporary directory) and the WAL
  checkpointed and truncated, so that no page of the file or its WAL still holds an
  old id.
* **Redis** (a single server or a Cluster, where ``{sub:<id>}`` and ``{sub:<pseudonym>}``
  are in different slots): the ids come from ``SSCAN`` of ``{citizens}:ids``, then
  ``ZSCAN`` of each issuer's credential index for a clear ``subject`` that has no
  citizen record, then ``SCAN`` of every master for the sessions, each with ``COUNT``.
  :data:`REDIS_BATCH` citizens are moved together by a few pipelines, in this order:
  their old keys are read; merged into the pseudonyms' keys (``SET NX``, ``HSETNX``,
  ``ZADD NX``: a record the new code already wrote under the pseudonym wins, and copying
  twice changes nothing); the pseudonyms join ``{citizens}:ids``; the old keys are
  deleted; the credential records are rewritten; and only then do the old ids leave
  ``{citizens}:ids``. A crash anywhere leaves each old id discoverable (in
  ``{citizens}:ids``, or as a credential's ``subject`` for one in no set, whose old keys
  are gone before that subject is rewritten) until its last step, and every
  step repeats harmlessly, so the next open finishes the move. Old keys are only ever
  deleted after their copies are written, so migrations overlapping (several workers
  opening at once) need no transaction across slots.

A value already shaped like a pseudonym (or a sealed id) is left alone, so a second
run, or a run over records the new code wrote, does nothing. This module knows the
backends' layouts (table and key names); the domain never calls it.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any, TypeVar

from keys.pseudonym import is_pseudonym, is_sealed_id
from store.errors import StoreError, StoreUnavailable
from store.interface import PSEUDONYMS, Store

__all__ = ["LOG_EVERY", "MARKER", "REDIS_BATCH", "SQLITE_BATCH", "pseudonymize"]

#: Config name recording that the instance's citizens are pseudonymous (declared with
#: the config kind; read with ``store.pseudonyms_done()``).
MARKER = PSEUDONYMS
#: Citizens moved per SQLite transaction.
SQLITE_BATCH = 1000
#: Citizens moved per group of Redis pipelines (a citizen's records are read whole:
#: up to 1,000 activity events and every wallet item, so fewer than on SQLite).
REDIS_BATCH = 200
#: A progress line every this many batches (and one at the end).
LOG_EVERY = 100

#: (table, column) that hold a citizen id, in SQLite; each column leads an index.
_SQLITE_COLUMNS = (
    ("citizens", "citizen_id"),
    ("wallets", "citizen_id"),
    ("wallet_items", "citizen_id"),
    ("activity", "citizen_id"),
    ("credentials", "subject"),
)
#: The keys of one citizen in Redis (``{sub:<id>}:<name>``).
_REDIS_NAMES = ("citizen", "password", "wallet", "items", "activity", "events", "creds")

log = logging.getLogger("ecert.store.pseudonymize")

Hook = Callable[[str], None]
T = TypeVar("T")


@dataclass(slots=True)
class _Progress:
    """Counts of what was moved, logged every :data:`LOG_EVERY` batches: never an id."""

    backend: str
    every: int = LOG_EVERY
    citizens: int = 0
    sessions: int = 0
    batches: int = 0
    _logged: int = field(default=0, repr=False)

    def batch(self, citizens: int = 0, sessions: int = 0) -> None:
        self.citizens += citizens
        self.sessions += sessions
        self.batches += 1
        if self.batches - self._logged >= self.every:
            self._logged = self.batches
            self._log("in progress")

    def done(self) -> None:
        self._log("done")

    def _log(self, state: str) -> None:
        log.info(
            "pseudonym migration %s (%s): %d citizens moved, %d sessions sealed, %d batches",
            state,
            self.backend,
            self.citizens,
            self.sessions,
            self.batches,
        )


def pseudonymize(
    store: Store,
    pseudonym: Callable[[str], str],
    seal_session: Callable[[str, str], str],
    *,
    hook: Hook | None = None,
    batch: int | None = None,
) -> int:
    """Move every clear citizen id of ``store`` to its pseudonym; the number moved.

    ``pseudonym`` maps a citizen id, ``seal_session(citizen_id, token_hash)`` seals a
    session's. ``hook`` is called after each step (tests inject a crash there); ``batch``
    overrides :data:`SQLITE_BATCH` / :data:`REDIS_BATCH`. Does nothing once
    :data:`MARKER` is set. Raises the store's errors.
    """
    if store.pseudonyms_done():
        return 0
    if batch is not None and not 1 <= batch <= 100_000:
        raise ValueError("the migration batch is 1 to 100000 citizens")
    step: Hook = hook or (lambda _name: None)
    from store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        progress = _Progress("sqlite")
        moved = _sqlite(store, pseudonym, seal_session, step, batch or SQLITE_BATCH, progress)
    else:
        from store.redis import RedisStore

        if not isinstance(store, RedisStore):
            store.mark_pseudonyms_done()
            return 0
        progress = _Progress("redis")
        moved = _redis(store, pseudonym, seal_session, step, batch or REDIS_BATCH, progress)
    if progress.batches:
        progress.done()
    store.mark_pseudonyms_done()
    return moved


def _chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk


# -- SQLite ---------------------------------------------------------------------------------


def _sqlite(
    store: Any,
    pseudonym: Callable[[str], str],
    seal: Callable[[str, str], str],
    step: Hook,
    batch: int,
    progress: _Progress,
) -> int:
    path: str = store.path
    if path == ":memory:" or path.startswith("file::memory:"):
        return 0  # a private database made just now: nothing from before
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    except sqlite3.Error as err:
        raise StoreUnavailable(f"cannot open the SQLite file to migrate: {err}") from err
    try:
        return _sqlite_move(conn, pseudonym, seal, step, batch, progress)
    except sqlite3.Error as err:
        raise StoreUnavailable(f"migrating to pseudonyms failed: {err}") from err
    finally:
        conn.close()


def _sql_is_pseudonym(value: object) -> int:
    return int(isinstance(value, str) and is_pseudonym(value))


def _sql_is_sealed(value: object) -> int:
    return int(isinstance(value, str) and is_sealed_id(value))


def _sqlite_move(
    conn: sqlite3.Connection,
    pseudonym: Callable[[str], str],
    seal: Callable[[str, str], str],
    step: Hook,
    batch: int,
    progress: _Progress,
) -> int:
    # Deleted and rewritten cells are zeroed in their pages, not just unlinked; the
    # mapping table (clear ids) lives in memory, never in a temporary file.
    conn.execute("PRAGMA secure_delete = ON")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.create_function("ecert_is_pseudonym", 1, _sql_is_pseudonym, deterministic=True)
    conn.create_function("ecert_is_sealed", 1, _sql_is_sealed, deterministic=True)
    conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS ecert_moves (old TEXT PRIMARY KEY, new TEXT NOT NULL)"
    )
    moved = 0
    for table, column in _SQLITE_COLUMNS:
        # Keyset pagination on the column's index. Ids moved leave the clear range, so
        # the walk never meets them again, and a rerun after a crash starts where the
        # data says: at the first id not yet moved.
        last: str | None = None
        while True:
            bound = "" if last is None else f"{column} > ? AND "
            rows = conn.execute(
                f"SELECT DISTINCT {column} FROM {table} "  # noqa: S608
                f"WHERE {bound}NOT ecert_is_pseudonym({column}) "
                f"ORDER BY {column} LIMIT ?",
                (batch,) if last is None else (last, batch),
            ).fetchall()
            if not rows:
                break
            ids = [str(row[0]) for row in rows]
            last = ids[-1]
            _sqlite_batch(conn, [(cid, pseudonym(cid)) for cid in ids], step)
            moved += len(ids)
            progress.batch(citizens=len(ids))
            step("sqlite:batch")
            if len(rows) < batch:
                break
    last = None
    while True:
        bound = "" if last is None else "token_hash > ? AND "
        rows = conn.execute(
            f"SELECT token_hash, citizen_id FROM sessions "  # noqa: S608
            f"WHERE {bound}NOT ecert_is_sealed(citizen_id) ORDER BY token_hash LIMIT ?",
            (batch,) if last is None else (last, batch),
        ).fetchall()
        if not rows:
            break
        last = str(rows[-1][0])
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Only a session still holding the id read (not one logged out meanwhile).
            conn.executemany(
                "UPDATE sessions SET citizen_id = ? WHERE token_hash = ? AND citizen_id = ?",
                [(seal(cid, token), token, cid) for token, cid in rows],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        progress.batch(sessions=len(rows))
        if len(rows) < batch:
            break
    step("sqlite:sessions")
    if moved or progress.sessions:
        # Old ids may survive in free pages and in WAL frames: rebuild, then empty the WAL.
        # VACUUM copies the whole database into a temporary one: on disk (where the copy
        # holds no clear id any more), not in memory, which would cost the file's size.
        conn.execute("DROP TABLE IF EXISTS temp.ecert_moves")
        conn.execute("PRAGMA temp_store = DEFAULT")
        conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return moved


def _sqlite_batch(conn: sqlite3.Connection, moves: list[tuple[str, str]], step: Hook) -> None:
    """Move a batch of citizens over every table in one transaction."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute("DELETE FROM temp.ecert_moves")
        conn.executemany("INSERT OR IGNORE INTO temp.ecert_moves (old, new) VALUES (?, ?)", moves)
        for table, column in _SQLITE_COLUMNS:
            # A row the new code already wrote under the pseudonym wins.
            conn.execute(
                f"UPDATE OR IGNORE {table} "  # noqa: S608
                f"SET {column} = (SELECT new FROM temp.ecert_moves WHERE old = {column}) "
                f"WHERE {column} IN (SELECT old FROM temp.ecert_moves)"
            )
            conn.execute(
                f"DELETE FROM {table} "  # noqa: S608
                f"WHERE {column} IN (SELECT old FROM temp.ecert_moves)"
            )
        conn.execute("DELETE FROM temp.ecert_moves")
        step("sqlite:staged")  # inside the transaction: a crash here loses the batch only
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


# -- Redis ----------------------------------------------------------------------------------


def _redis(
    store: Any,
    pseudonym: Callable[[str], str],
    seal: Callable[[str, str], str],
    step: Hook,
    batch: int,
    progress: _Progress,
) -> int:
    from redis import exceptions as rexc

    try:
        return _redis_move(store, pseudonym, seal, step, batch, progress)
    except (rexc.ConnectionError, rexc.TimeoutError, rexc.ClusterDownError) as err:
        raise StoreUnavailable(f"migrating to pseudonyms failed: {err}") from err
    except (rexc.RedisError, rexc.RedisClusterException) as err:
        raise StoreError(f"migrating to pseudonyms failed: {err}") from err


@dataclass(frozen=True, slots=True)
class _Move:
    """One citizen to move: the old id, its pseudonym, whether it is in
    ``{citizens}:ids``, and credential ids found naming it outside its own index."""

    citizen_id: str
    alias: str
    listed: bool
    credentials: frozenset[str] = frozenset()


def _redis_move(
    store: Any,
    pseudonym: Callable[[str], str],
    seal: Callable[[str, str], str],
    step: Hook,
    batch: int,
    progress: _Progress,
) -> int:
    r = store.client
    prefix: str = store.prefix

    def key(tag: str, name: str) -> str:
        return f"{prefix}:{{{tag}}}:{name}"

    moved = 0
    # 1. The citizens: SSCAN returns every member present from start to end of the
    #    scan (an id not yet moved), perhaps twice (harmless), and perhaps the pseudonyms
    #    added meanwhile (skipped).
    members = (_text(v) for v in r.sscan_iter(key("citizens", "ids"), count=batch))
    for chunk in _chunks(members, batch):
        clear = sorted({c for c in chunk if not is_pseudonym(c)})
        if clear:
            # Counted as they leave the set: SSCAN may return an id twice.
            done = _redis_batch(r, key, [_Move(c, pseudonym(c), True) for c in clear], step)
            moved += done
            progress.batch(citizens=done)
    # 2. Credentials whose clear subject has no citizen record (nor a place in the set):
    #    each issuer's index, ZSCAN by batch, the records read by one pipeline.
    for issuer in sorted(_text(i) for i in r.smembers(key("creds", "issuers"))):
        index = key(f"iss:{_tag_hash(issuer)}", "creds")
        ids = (_text(member) for member, _score in r.zscan_iter(index, count=batch))
        for chunk in _chunks(ids, batch):
            pipe = r.pipeline(transaction=False)
            for credential_id in chunk:
                pipe.get(key(f"cred:{credential_id}", "rec"))
            by_subject: dict[str, set[str]] = {}
            for credential_id, blob in zip(chunk, pipe.execute(), strict=True):
                if blob is None:
                    continue
                subject = str(json.loads(blob).get("subject", ""))
                if subject and not is_pseudonym(subject):
                    by_subject.setdefault(subject, set()).add(credential_id)
            if by_subject:
                moves = [
                    _Move(c, pseudonym(c), False, frozenset(creds))
                    for c, creds in sorted(by_subject.items())
                ]
                _redis_batch(r, key, moves, step)
                moved += len(moves)
                progress.batch(citizens=len(moves))
    # 3. Sessions, on every master of a Cluster.
    sessions = r.scan_iter(match=key("sess:*", "rec"), count=batch)
    for chunk in _chunks(sessions, batch):
        pipe = r.pipeline(transaction=False)
        for name in chunk:
            pipe.get(name)
        pipe = _sealed(r.pipeline(transaction=False), chunk, pipe.execute(), seal)
        if pipe is not None:
            progress.batch(sessions=len(pipe.execute()))
    step("redis:sessions")
    return moved


def _sealed(
    pipe: Any, names: list[Any], blobs: list[bytes | None], seal: Callable[[str, str], str]
) -> Any:
    """``pipe`` with the sessions of ``names`` whose citizen id is clear rewritten
    sealed (``SET XX KEEPTTL``: one that expired or logged out stays gone), or None."""
    count = 0
    for name, blob in zip(names, blobs, strict=True):
        if blob is None:
            continue
        record = json.loads(blob)
        if not is_sealed_id(record["citizen_id"]):
            record["citizen_id"] = seal(record["citizen_id"], record["token_hash"])
            pipe.set(name, json.dumps(record), xx=True, keepttl=True)
            count += 1
    return pipe if count else None


def _redis_batch(r: Any, key: Callable[[str, str], str], moves: list[_Move], step: Hook) -> int:
    """Move a batch of citizens: copy, list, delete, rewrite the registry, unlist; the
    number of old ids that left ``{citizens}:ids``."""
    old = [{name: key(f"sub:{m.citizen_id}", name) for name in _REDIS_NAMES} for m in moves]
    new = [{name: key(f"sub:{m.alias}", name) for name in _REDIS_NAMES} for m in moves]
    pipe = r.pipeline(transaction=False)
    for keys in old:
        for name in ("citizen", "password", "wallet"):
            pipe.get(keys[name])
        pipe.hgetall(keys["items"])
        pipe.zrange(keys["activity"], 0, -1, withscores=True)
        pipe.hgetall(keys["events"])
        pipe.zrange(keys["creds"], 0, -1, withscores=True)
    replies = pipe.execute()
    found = [replies[i : i + 7] for i in range(0, len(replies), 7)]

    pipe = r.pipeline(transaction=False)
    for move, target, values in zip(moves, new, found, strict=True):
        citizen, password, wallet, items, activity, events, creds = values
        if citizen is not None:
            pipe.set(target["citizen"], _renamed(citizen, "citizen_id", move.alias), nx=True)
        if password is not None:
            pipe.set(target["password"], password, nx=True)
        if wallet is not None:
            pipe.set(target["wallet"], _renamed(wallet, "citizen_id", move.alias), nx=True)
        for name, blob in items.items():
            pipe.hsetnx(target["items"], name, _renamed(blob, "citizen_id", move.alias))
        if activity:
            pipe.zadd(target["activity"], dict(activity), nx=True)
        for name, blob in events.items():
            pipe.hsetnx(target["events"], name, _renamed(blob, "citizen_id", move.alias))
        if creds:
            pipe.zadd(target["creds"], dict(creds), nx=True)
    pipe.execute()
    step("redis:copied")

    listed = [m.alias for m, values in zip(moves, found, strict=True) if m.listed or values[0]]
    if listed:
        r.sadd(key("citizens", "ids"), *listed)
    pipe = r.pipeline(transaction=False)
    for keys in old:
        for name in keys.values():
            pipe.delete(name)  # one key per call: a Cluster pipeline splits by slot anyway
    pipe.execute()
    step("redis:deleted")

    # The registry's subject, last: until it is rewritten, a credential's clear subject
    # is what finds a citizen that is in no set (each record lives in its own slot).
    wanted = [
        (move, target, credential_id)
        for move, target, values in zip(moves, new, found, strict=True)
        for credential_id in sorted({_text(c) for c, _ in values[6]} | move.credentials)
    ]
    pipe = r.pipeline(transaction=False)
    for _move, _target, credential_id in wanted:
        pipe.get(key(f"cred:{credential_id}", "rec"))
    blobs = pipe.execute() if wanted else []
    pipe = r.pipeline(transaction=False)
    for (move, target, credential_id), blob in zip(wanted, blobs, strict=True):
        if blob is None:
            continue
        record = json.loads(blob)
        if record.get("subject") == move.citizen_id:
            record["subject"] = move.alias
            pipe.set(key(f"cred:{credential_id}", "rec"), json.dumps(record), xx=True)
            pipe.zadd(target["creds"], {credential_id: int(record["issued_at"])}, nx=True)
    pipe.execute()
    step("redis:registry")

    return int(r.srem(key("citizens", "ids"), *(m.citizen_id for m in moves)))


def _tag_hash(name: str) -> str:
    from store.redis.base import tag_hash

    return tag_hash(name)


def _renamed(blob: bytes, field_name: str, value: str) -> bytes:
    record = json.loads(blob)
    record[field_name] = value
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
