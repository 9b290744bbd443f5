"""Links between citizens and their held-for copies on Redis. In the holder's slot:
``P:{sub:H}:links`` (link id -> record JSON without ``state`` and ``updated_at``),
``P:{sub:H}:link-state`` (link id -> ``<state>:<updated_at>``) and
``P:{sub:H}:link-copies`` (copy id -> copy JSON); in the party's slot,
``P:{sub:P}:party-links`` (link id -> the holder's pseudonym), written just *before*
the record (a crash in between leaves an entry that names no record, which reads as no
link; never a link its party cannot find). Adding a link is one script over the
holder's keys; a state change is one script that compares and sets, and so is a new
link credential (the record as read, and the state still active)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import ClassVar

from store.codec import Codec
from store.errors import Conflict
from store.kinds.links import LinkCopy, LinkRecord, LinkState
from store.redis.base import RedisBase, decode_int, text
from store.validation import check_link, check_link_credential, check_link_states

__all__ = ["LinksMixin"]

LINK = Codec(LinkRecord)
COPY = Codec(LinkCopy)
_BESIDE = ("state", "updated_at")


class LinksMixin(RedisBase):
    """:class:`store.kinds.links.LinkStore` on Redis."""

    _SCRIPTS: ClassVar[Mapping[str, str]] = {
        # KEYS: links, link-state. ARGV: id, JSON, '<state>:<updated_at>'.
        "put_link": """
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 'conflict' end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
return 'added'
""",
        # KEYS: link-state. ARGV: id, expected state, '<state>:<updated_at>'. 1 if set.
        "set_link_state": """
local st = redis.call('HGET', KEYS[1], ARGV[1])
if not st then return 0 end
local colon = string.find(st, ':', 1, true)
if not colon or string.sub(st, 1, colon - 1) ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
""",
        # KEYS: links, link-state. ARGV: id, the record JSON read, its new JSON,
        # '<state>:<updated_at>'. 1 if set: the record unchanged since read, and active.
        "set_link_credential": """
if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then return 0 end
local st = redis.call('HGET', KEYS[2], ARGV[1])
if not st or string.sub(st, 1, 7) ~= 'active:' then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[4])
return 1
""",
    }

    def _link_keys(self, holder: str) -> list[str]:
        return [self._citizen_key(holder, name) for name in ("links", "link-state")]

    def put_link(self, record: LinkRecord) -> None:
        """Insert a new link (the party's index entry first). Raises :class:`Conflict`
        if the holder has this id."""
        check_link(record)
        index = self._citizen_key(record.party, "party-links")
        args = [
            record.link_id,
            LINK.to_json(record, exclude=_BESIDE),
            f"{record.state}:{record.updated_at}",
        ]
        with self._guard():
            self._r.hset(index, record.link_id, record.holder)
            got = text(self._script("put_link")(keys=self._link_keys(record.holder), args=args))
        if got == "conflict":
            raise Conflict("this link id already exists")

    def _link(self, blob: bytes, state: bytes | None) -> LinkRecord:
        extra: dict[str, object] = {"state": None, "updated_at": None}
        if state is not None:
            name, _, at = text(state).partition(":")
            extra = {"state": name, "updated_at": decode_int(at.encode(), "link updated_at")}
        return LINK.from_json(blob, extra)

    def get_link(self, holder: str, link_id: str) -> LinkRecord | None:
        """One link, or None."""
        data, state = self._link_keys(holder)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hget(data, link_id)
            pipe.hget(state, link_id)
            blob, value = pipe.execute()
        return None if blob is None else self._link(blob, value)

    def list_links(self, holder: str) -> list[LinkRecord]:
        """The holder's links, by ``created_at`` then ``link_id``."""
        data, state = self._link_keys(holder)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.hgetall(data)
            pipe.hgetall(state)
            blobs, states = pipe.execute()
        links = [self._link(blob, states.get(link_id)) for link_id, blob in blobs.items()]
        links.sort(key=lambda r: (r.created_at, r.link_id))
        return links

    def list_party_links(self, party: str) -> list[LinkRecord]:
        """The links naming ``party``, by ``created_at`` then ``link_id`` (an index
        entry without its record is skipped)."""
        with self._guard():
            entries = self._r.hgetall(self._citizen_key(party, "party-links"))
        links = []
        for link_id, holder in entries.items():
            record = self.get_link(text(holder), text(link_id))
            if record is not None and record.party == party:
                links.append(record)
        links.sort(key=lambda r: (r.created_at, r.link_id))
        return links

    def set_link_state(
        self, holder: str, link_id: str, state: LinkState, *, expect: LinkState, at: int
    ) -> bool:
        """Compare-and-set the link's state; False if it is not ``expect`` or unknown."""
        check_link_states(state, expect)
        key = self._citizen_key(holder, "link-state")
        with self._guard():
            done = self._script("set_link_state")(
                keys=[key], args=[link_id, expect, f"{state}:{at}"]
            )
        return bool(done)

    def set_link_credential(
        self, holder: str, link_id: str, credential_id: str, blob: bytes, *, expect: str, at: int
    ) -> bool:
        """Compare-and-set an active link's credential (and blob): the record is read,
        checked, and written back by a script only if it is still what was read."""
        check_link_credential(credential_id, expect)
        data, state = self._link_keys(holder)
        with self._guard():
            raw = self._r.hget(data, link_id)
        if raw is None:
            return False
        record = self._link(raw, f"active:{at}".encode())
        if record.credential_id != expect:
            return False
        changed = replace(record, credential_id=credential_id, blob=blob, updated_at=at)
        args = [link_id, raw, LINK.to_json(changed, exclude=_BESIDE), f"active:{at}"]
        with self._guard():
            done = self._script("set_link_credential")(keys=[data, state], args=args)
        return bool(done)

    def put_link_copy(self, copy: LinkCopy) -> None:
        """Insert or replace the copy with this holder and ``copy_id``."""
        with self._guard():
            self._r.hset(
                self._citizen_key(copy.holder, "link-copies"), copy.copy_id, COPY.to_json(copy)
            )

    def list_link_copies(self, holder: str, link_id: str | None = None) -> list[LinkCopy]:
        """The holder's copies (of one link, or all), by ``added_at`` then ``copy_id``."""
        with self._guard():
            blobs = self._r.hgetall(self._citizen_key(holder, "link-copies"))
        copies = [COPY.from_json(blob) for blob in blobs.values()]
        copies = [c for c in copies if link_id is None or c.link_id == link_id]
        copies.sort(key=lambda c: (c.added_at, c.copy_id))
        return copies
