"""Notices to citizens: what the wallet page says happened on their behalf.

A change cascade tells the citizen "Your name changed; 4 certificates were updated", a
batch "Your childcare subsidy certificate has arrived", a re-issue "A certificate was
re-issued for your security". Each notice is kept under the citizen's pseudonym with its
text and the credential ids it concerns sealed (``N1``, associated data
``ecert-notice:<pseudonym>:<notice id>``); the newest :data:`NOTICE_CAP` stay.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from keys.aead import Envelope
from keys.errors import SealBroken
from keys.models import LocalizedName
from keys.pseudonym import Pseudonyms
from service.errors import JobCorrupt
from store.interface import NOTICE_CAP, NoticeRecord, Store
from store.kinds.activity import new_event_id

__all__ = ["NOTICES_KEY_LABEL", "Notice", "Notices"]

#: Label of the key that seals notices (``derive_key(secret, label)``).
NOTICES_KEY_LABEL = "ecert/notices/v1"
_SEAL = b"N1"
#: Longest notice text, per language (characters).
MAX_NOTICE_TEXT = 200


@dataclass(frozen=True, slots=True)
class Notice:
    """A notice opened for its citizen."""

    id: str
    created_at: int
    kind: str
    text: LocalizedName
    credentials: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at,
            "kind": self.kind,
            "text": self.text.to_dict(),
            "credentials": list(self.credentials),
        }


class Notices:
    """Adds, lists and dismisses citizens' notices."""

    def __init__(
        self,
        store: Store,
        key: bytes,
        pseudonyms: Pseudonyms,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._seal = Envelope(key, _SEAL)
        self._pseudonyms = pseudonyms
        self.clock = clock

    def add(
        self,
        citizen_id: str,
        kind: str,
        text: LocalizedName,
        credentials: Sequence[str] = (),
        *,
        notice_id: str | None = None,
    ) -> Notice:
        """Tell the citizen. A given ``notice_id`` replaces the notice of that id (a job
        that tells again after a crash tells once)."""
        nid = notice_id or new_event_id()
        now = int(self.clock())
        record, kept = self._record(citizen_id, kind, text, credentials, nid, now)
        self._store.put_notice(record)
        return Notice(nid, now, kind, kept, tuple(credentials))

    def add_many(
        self, notices: Sequence[tuple[str, str, LocalizedName, Sequence[str], str]]
    ) -> None:
        """:meth:`add` for many ``(citizen_id, kind, text, credentials, notice_id)`` at
        once, in one store call (a batch's chunk)."""
        now = int(self.clock())
        self._store.put_notices(
            [
                self._record(citizen_id, kind, text, credentials, notice_id, now)[0]
                for citizen_id, kind, text, credentials, notice_id in notices
            ]
        )

    def _record(
        self,
        citizen_id: str,
        kind: str,
        text: LocalizedName,
        credentials: Sequence[str],
        notice_id: str,
        now: int,
    ) -> tuple[NoticeRecord, LocalizedName]:
        owner = self._pseudonyms.of(citizen_id)
        zh, en = text.zh[:MAX_NOTICE_TEXT], text.en[:MAX_NOTICE_TEXT]
        body = {"text": {"zh": zh, "en": en}, "credentials": list(credentials)}
        blob = self._seal.seal(
            json.dumps(body, ensure_ascii=False).encode("utf-8"), _aad(owner, notice_id)
        )
        return NoticeRecord(owner, notice_id, now, kind, blob), LocalizedName(zh=zh, en=en)

    def list_notices(self, citizen_id: str, limit: int = 50) -> list[Notice]:
        """The newest ``limit`` notices (at most :data:`NOTICE_CAP`), newest first."""
        owner = self._pseudonyms.of(citizen_id)
        out = []
        for record in self._store.list_notices(owner, min(limit, NOTICE_CAP)):
            try:
                body = json.loads(self._seal.open(record.blob, _aad(owner, record.notice_id)))
            except SealBroken:
                raise JobCorrupt("a notice does not open (wrong secret or damage)") from None
            out.append(
                Notice(
                    record.notice_id,
                    record.created_at,
                    record.kind,
                    LocalizedName(zh=body["text"]["zh"], en=body["text"]["en"]),
                    tuple(body["credentials"]),
                )
            )
        return out

    def dismiss(self, citizen_id: str, notice_id: str) -> bool:
        """Remove one notice; False if the citizen has none of that id."""
        return self._store.delete_notice(self._pseudonyms.of(citizen_id), notice_id)


def _aad(owner: str, notice_id: str) -> bytes:
    return f"ecert-notice:{owner}:{notice_id}".encode()
