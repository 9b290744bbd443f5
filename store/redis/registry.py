"""The credential registry on Redis: ``P:{cred:ID}:rec`` (record JSON without the
state) and ``:state``; the indexes ``P:{sub:SUBJECT}:creds``, ``P:{iss:I}:creds``
(sorted sets by ``issued_at``), ``P:{creds}:issuers`` and ``P:{sl:H}:creds`` (status
index -> id), written just after the record (cross-slot: one pipeline, not one
transaction)."""

from __future__ import annotations

from store.codec import Codec
from store.errors import Conflict, NotFound
from store.kinds.registry import CREDENTIAL_STATES, CredentialRecord, CredentialState
from store.redis.base import RedisBase, tag_hash, text
from store.validation import check_state

__all__ = ["RegistryMixin"]

CREDENTIAL = Codec(CredentialRecord)


def _credential(blob: bytes, state: bytes | None) -> CredentialRecord:
    return CREDENTIAL.from_json(blob, {"state": None if state is None else text(state)})


class RegistryMixin(RedisBase):
    """:class:`store.kinds.registry.RegistryStore` on Redis."""

    def _cred_keys(self, credential_id: str) -> tuple[str, str]:
        tag = f"cred:{credential_id}"
        return self._k(tag, "rec"), self._k(tag, "state")

    def _subject_index(self, subject: str) -> str:
        return self._k(f"sub:{subject}", "creds")

    def _issuer_index(self, issuer: str) -> str:
        return self._k(f"iss:{tag_hash(issuer)}", "creds")

    def _position_index(self, uri: str) -> str:
        return self._k(f"sl:{tag_hash(uri)}", "creds")

    def put_credential(self, record: CredentialRecord) -> None:
        """Insert a credential. Raises :class:`Conflict` if the id exists."""
        check_state(record.state, CREDENTIAL_STATES)
        blob = CREDENTIAL.to_json(record, exclude=("state",))
        rec, state = self._cred_keys(record.id)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.set(rec, blob, nx=True)
            pipe.set(state, record.state, nx=True)
            created, _ = pipe.execute()
            if not created:
                raise Conflict(f"credential {record.id!r} already exists")
            # Cross-slot indexes: one pipeline, not one transaction (see module docstring).
            pipe = self._r.pipeline(transaction=False)
            pipe.zadd(self._subject_index(record.subject), {record.id: record.issued_at})
            pipe.zadd(self._issuer_index(record.issuer), {record.id: record.issued_at})
            pipe.sadd(self._k("creds", "issuers"), record.issuer)
            pipe.hsetnx(self._position_index(record.status_uri), record.status_idx, record.id)
            pipe.execute()

    def put_credentials(self, records: list[CredentialRecord]) -> list[bool]:
        """Insert many credentials: one pipeline of ``SET NX`` (record, then state: one
        slot each), then one of the indexes of those inserted; for each, True if
        inserted, False if its id existed (left unchanged)."""
        for record in records:
            check_state(record.state, CREDENTIAL_STATES)
        if not records:
            return []
        with self._guard():
            pipe = self._r.pipeline(transaction=False)
            for record in records:
                rec, state = self._cred_keys(record.id)
                pipe.set(rec, CREDENTIAL.to_json(record, exclude=("state",)), nx=True)
                pipe.set(state, record.state, nx=True)
            replies = pipe.execute()
            created = [bool(reply) for reply in replies[0::2]]
            pipe = self._r.pipeline(transaction=False)
            for record, new in zip(records, created, strict=True):
                if new:
                    pipe.zadd(self._subject_index(record.subject), {record.id: record.issued_at})
                    pipe.zadd(self._issuer_index(record.issuer), {record.id: record.issued_at})
                    pipe.hsetnx(
                        self._position_index(record.status_uri), record.status_idx, record.id
                    )
            for issuer in sorted(
                {r.issuer for r, new in zip(records, created, strict=True) if new}
            ):
                pipe.sadd(self._k("creds", "issuers"), issuer)
            pipe.execute()
        return created

    def get_credential(self, credential_id: str) -> CredentialRecord | None:
        """The credential with this id, or None. Raises :class:`StoreUnavailable`."""
        rec, state = self._cred_keys(credential_id)
        with self._guard():
            pipe = self._r.pipeline(transaction=True)
            pipe.get(rec)
            pipe.get(state)
            blob, value = pipe.execute()
        return None if blob is None else _credential(blob, value)

    def list_credentials(
        self, *, subject: str | None = None, issuer: str | None = None, kid: str | None = None
    ) -> list[CredentialRecord]:
        """Filter by subject, issuer and/or ``kid``, ordered by ``issued_at`` then ``id``.

        There is no index by ``kid``: it filters the subject's or the issuer's records.
        Raises :class:`StoreUnavailable`.
        """
        with self._guard():
            if subject is not None:
                ids = self._r.zrange(self._subject_index(subject), 0, -1)
            elif issuer is not None:
                ids = self._r.zrange(self._issuer_index(issuer), 0, -1)
            else:
                issuers = self._r.smembers(self._k("creds", "issuers"))
                pipe = self._r.pipeline(transaction=False)
                for name in issuers:
                    pipe.zrange(self._issuer_index(text(name)), 0, -1)
                ids = [i for chunk in pipe.execute() for i in chunk]
            pipe = self._r.pipeline(transaction=False)
            for credential_id in ids:
                rec, state = self._cred_keys(text(credential_id))
                pipe.get(rec)
                pipe.get(state)
            replies = pipe.execute() if ids else []
        records = [
            _credential(blob, state)
            for blob, state in zip(replies[0::2], replies[1::2], strict=True)
            if blob is not None
        ]
        records = [
            r
            for r in records
            if (subject is None or r.subject == subject)
            and (issuer is None or r.issuer == issuer)
            and (kid is None or r.kid == kid)
        ]
        records.sort(key=lambda r: (r.issued_at, r.id))
        return records

    def set_credential_state(self, credential_id: str, state: CredentialState) -> None:
        """Change a credential's state. Raises :class:`NotFound` for an unknown id."""
        check_state(state, CREDENTIAL_STATES)
        _rec, key = self._cred_keys(credential_id)
        with self._guard():
            done = self._r.set(key, state, xx=True)
        if not done:
            raise NotFound(f"no credential {credential_id!r}")

    def find_credential(self, status_uri: str, status_idx: int) -> CredentialRecord | None:
        """The credential holding entry ``status_idx`` of the list at ``status_uri``.

        Should two credentials name the same entry, the first one put is returned.
        Raises :class:`StoreUnavailable`.
        """
        with self._guard():
            found = self._r.hget(self._position_index(status_uri), status_idx)
        if found is None:
            return None
        record = self.get_credential(text(found))
        if record is None or (record.status_uri, record.status_idx) != (status_uri, status_idx):
            return None
        return record
