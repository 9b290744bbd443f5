"""Move an instance made before pseudonyms to pseudonymous citizens, in place, once.

Before pseudonyms the store kept the citizen id (a resident ID number) in clear: SQLite
tables ``citizens``, ``wallets``, ``wallet_items``, ``activity``, ``credentials.subject``
and ``sessions``; Redis keys ``{sub:<id>}:*``, the set ``{citizens}:ids``, the
``subject`` of each credential record and each session record. :func:`pseudonymize`
rewrites all of them: a citizen's records move to the pseudonym, a session's citizen id
is sealed. It runs when an instance is opened (``service.instance.open_instance``) and
records that it is done in the config value :data:`MARKER`, so it runs at most once
to the end.

Resumable and atomic per citizen:

* **SQLite**: one ``BEGIN IMMEDIATE`` transaction per citizen over every table; the
  sessions in one more. Deleted content is overwritten (``secure_delete``), then the
  file is rebuilt (``VACUUM``) and the WAL checkpointed and truncated, so that no page
  of the file or its WAL still holds an old id.
* **Redis** (a single server or a Cluster, where ``{sub:<id>}`` and ``{sub:<pseudonym>}``
  are in different slots): per citizen, the old keys are read in one transaction,
  merged into the pseudonym's keys in one transaction on that slot (``SET NX``,
  ``HSETNX``, ``ZADD NX``: a record the new code already wrote under the pseudonym wins,
  and copying twice changes nothing), the credential records are rewritten one by one,
  the pseudonym joins ``{citizens}:ids``, the old keys are deleted in one transaction,
  and only then does the old id leave ``{citizens}:ids``. A crash anywhere leaves the
  old id discoverable (in ``{citizens}:ids`` or as a credential's ``subject``) until
  its last step, and every step repeats harmlessly, so the next open finishes the
  move. Sessions are found with ``SCAN`` (every master of a Cluster).

A value already shaped like a pseudonym (or a sealed id) is left alone, so a second
run, or a run over records the new code wrote, does nothing. This module knows the
backends' layouts (table and key names); the domain never calls it.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from keys.pseudonym import is_pseudonym, is_sealed_id
from store.errors import StoreError, StoreUnavailable
from store.interface import PSEUDONYMS, Store

__all__ = ["MARKER", "pseudonymize"]

#: Config name recording that the instance's citizens are pseudonymous (declared with
#: the config kind; read with ``store.pseudonyms_done()``).
MARKER = PSEUDONYMS

#: (table, column) that hold a citizen id, in SQLite.
_SQLITE_COLUMNS = (
    ("citizens", "citizen_id"),
    ("wallets", "citizen_id"),
    ("wallet_items", "citizen_id"),
    ("activity", "citizen_id"),
    ("credentials", "subject"),
)
#: The keys of one citizen in Redis (``{sub:<id>}:<name>``).
_REDIS_NAMES = ("citizen", "password", "wallet", "items", "activity", "events", "creds")

Hook = Callable[[str], None]


def pseudonymize(
    store: Store,
    pseudonym: Callable[[str], str],
    seal_session: Callable[[str, str], str],
    *,
    hook: Hook | None = None,
) -> int:
    """Move every clear citizen id of ``store`` to its pseudonym; the number moved.

    ``pseudonym`` maps a citizen id, ``seal_session(citizen_id, token_hash)`` seals a
    session's. ``hook`` is called after each step (tests inject a crash there). Does
    nothing once :data:`MARKER` is set. Raises the store's errors.
    """
    if store.pseudonyms_done():
        return 0
    step: Hook = hook or (lambda _name: None)
    from store.sqlite import SQLiteStore

    if isinstance(store, SQLiteStore):
        moved = _sqlite(store, pseudonym, seal_session, step)
    else:
        from store.redis import RedisStore

        moved = _redis(store, pseudonym, seal_session, step) if isinstance(store, RedisStore) else 0
    store.mark_pseudonyms_done()
    return moved


# -- SQLite ---------------------------------------------------------------------------------


def _sqlite(
    store: Any, pseudonym: Callable[[str], str], seal: Callable[[str, str], str], step: Hook
) -> int:
    path: str = store.path
    if path == ":memory:" or path.startswith("file::memory:"):
        return 0  # a private database made just now: nothing from before
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None)
    except sqlite3.Error as err:
        raise StoreUnavailable(f"cannot open the SQLite file to migrate: {err}") from err
    try:
        return _sqlite_move(conn, pseudonym, seal, step)
    except sqlite3.Error as err:
        raise StoreUnavailable(f"migrating to pseudonyms failed: {err}") from err
    finally:
        conn.close()


def _sqlite_move(
    conn: sqlite3.Connection,
    pseudonym: Callable[[str], str],
    seal: Callable[[str, str], str],
    step: Hook,
) -> int:
    # Deleted and rewritten cells are zeroed in their pages, not just unlinked.
    conn.execute("PRAGMA secure_delete = ON")
    found: set[str] = set()
    for table, column in _SQLITE_COLUMNS:
        rows = conn.execute(f"SELECT DISTINCT {column} FROM {table}").fetchall()  # noqa: S608
        found.update(str(row[0]) for row in rows)
    clear = sorted(value for value in found if not is_pseudonym(value))
    for citizen_id in clear:
        alias = pseudonym(citizen_id)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for table, column in _SQLITE_COLUMNS:
                # A row the new code already wrote under the pseudonym wins.
                conn.execute(
                    f"UPDATE OR IGNORE {table} SET {column} = ? WHERE {column} = ?",  # noqa: S608
                    (alias, citizen_id),
                )
                conn.execute(f"DELETE FROM {table} WHERE {column} = ?", (citizen_id,))  # noqa: S608
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        step("sqlite:citizen")
    sessions = 0
    conn.execute("BEGIN IMMEDIATE")
    try:
        for token_hash, citizen_id in conn.execute(
            "SELECT token_hash, citizen_id FROM sessions"
        ).fetchall():
            if not is_sealed_id(citizen_id):
                conn.execute(
                    "UPDATE sessions SET citizen_id = ? WHERE token_hash = ?",
                    (seal(citizen_id, token_hash), token_hash),
                )
                sessions += 1
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    step("sqlite:sessions")
    if clear or sessions:
        # Old ids may survive in free pages and in WAL frames: rebuild, then empty the WAL.
        conn.execute("VACUUM")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return len(clear)


# -- Redis ----------------------------------------------------------------------------------


def _redis(
    store: Any, pseudonym: Callable[[str], str], seal: Callable[[str, str], str], step: Hook
) -> int:
    from redis import exceptions as rexc

    try:
        return _redis_move(store, pseudonym, seal, step)
    except (rexc.ConnectionError, rexc.TimeoutError, rexc.ClusterDownError) as err:
        raise StoreUnavailable(f"migrating to pseudonyms failed: {err}") from err
    except (rexc.RedisError, rexc.RedisClusterException) as err:
        raise StoreError(f"migrating to pseudonyms failed: {err}") from err


def _redis_move(
    store: Any, pseudonym: Callable[[str], str], seal: Callable[[str, str], str], step: Hook
) -> int:
    r = store.client
    prefix: str = store.prefix

    def key(tag: str, name: str) -> str:
        return f"{prefix}:{{{tag}}}:{name}"

    ids_key = key("citizens", "ids")
    citizens = {_text(value) for value in r.smembers(ids_key)}
    by_subject: dict[str, set[str]] = {}
    for record in store.list_credentials():
        if not is_pseudonym(record.subject):
            by_subject.setdefault(record.subject, set()).add(record.id)
    clear = sorted({c for c in citizens if not is_pseudonym(c)} | set(by_subject))
    for citizen_id in clear:
        _redis_citizen(
            r,
            key,
            citizen_id,
            pseudonym(citizen_id),
            citizen_id in citizens,
            by_subject.get(citizen_id, set()),
            step,
        )
    for name in r.scan_iter(match=key("sess:*", "rec"), count=1000):
        blob = r.get(name)
        if blob is None:
            continue
        record = json.loads(blob)
        if not is_sealed_id(record["citizen_id"]):
            record["citizen_id"] = seal(record["citizen_id"], record["token_hash"])
            r.set(name, json.dumps(record), xx=True, keepttl=True)
    step("redis:sessions")
    return len(clear)


def _redis_citizen(
    r: Any,
    key: Callable[[str, str], str],
    citizen_id: str,
    alias: str,
    listed: bool,
    credentials: set[str],
    step: Hook,
) -> None:
    old = {name: key(f"sub:{citizen_id}", name) for name in _REDIS_NAMES}
    new = {name: key(f"sub:{alias}", name) for name in _REDIS_NAMES}
    pipe = r.pipeline(transaction=True)
    for name in ("citizen", "password", "wallet"):
        pipe.get(old[name])
    pipe.hgetall(old["items"])
    pipe.zrange(old["activity"], 0, -1, withscores=True)
    pipe.hgetall(old["events"])
    pipe.zrange(old["creds"], 0, -1, withscores=True)
    citizen, password, wallet, items, activity, events, creds = pipe.execute()

    pipe = r.pipeline(transaction=True)
    if citizen is not None:
        pipe.set(new["citizen"], _renamed(citizen, "citizen_id", alias), nx=True)
    if password is not None:
        pipe.set(new["password"], password, nx=True)
    if wallet is not None:
        pipe.set(new["wallet"], _renamed(wallet, "citizen_id", alias), nx=True)
    for field, blob in items.items():
        pipe.hsetnx(new["items"], field, _renamed(blob, "citizen_id", alias))
    if activity:
        pipe.zadd(new["activity"], dict(activity), nx=True)
    for field, blob in events.items():
        pipe.hsetnx(new["events"], field, _renamed(blob, "citizen_id", alias))
    if creds:
        pipe.zadd(new["creds"], dict(creds), nx=True)
    pipe.execute()
    step("redis:copied")

    # The registry's subject: each credential record lives in its own slot.
    for credential_id in sorted({_text(c) for c, _ in creds} | credentials):
        rec = key(f"cred:{credential_id}", "rec")
        blob = r.get(rec)
        if blob is None:
            continue
        record = json.loads(blob)
        if record.get("subject") == citizen_id:
            record["subject"] = alias
            r.set(rec, json.dumps(record), xx=True)
            r.zadd(new["creds"], {credential_id: int(record["issued_at"])}, nx=True)
    step("redis:registry")

    if listed or citizen is not None:
        r.sadd(key("citizens", "ids"), alias)
    pipe = r.pipeline(transaction=True)
    pipe.delete(*old.values())
    pipe.execute()
    step("redis:deleted")
    r.srem(key("citizens", "ids"), citizen_id)


def _renamed(blob: bytes, field: str, value: str) -> bytes:
    record = json.loads(blob)
    record[field] = value
    return json.dumps(record, ensure_ascii=False).encode("utf-8")


def _text(value: bytes | str) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value
