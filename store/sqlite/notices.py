"""Citizens' notices on SQLite (table ``notices``, schema version 5): the newest
:data:`NOTICE_CAP` per citizen."""

from __future__ import annotations

from store.codec import Codec
from store.kinds.notices import NOTICE_CAP, NoticeRecord
from store.sqlite.base import SQLiteBase
from store.validation import check_activity_limit

__all__ = ["NoticesMixin"]

NOTICE = Codec(NoticeRecord)
_INSERT = NOTICE.insert("notices", "INSERT OR REPLACE")


class NoticesMixin(SQLiteBase):
    """:class:`store.kinds.notices.NoticeStore` on SQLite."""

    def put_notice(self, record: NoticeRecord) -> None:
        """Insert or replace; only the newest :data:`NOTICE_CAP` of the citizen stay."""
        with self._write() as conn:
            conn.execute(_INSERT, NOTICE.to_row(record))
            edge = conn.execute(
                "SELECT created_at, notice_id FROM notices WHERE citizen_id = ?"
                " ORDER BY created_at DESC, notice_id DESC LIMIT 1 OFFSET ?",
                (record.citizen_id, NOTICE_CAP),
            ).fetchone()
            if edge is not None:
                conn.execute(
                    "DELETE FROM notices WHERE citizen_id = ?"
                    " AND (created_at, notice_id) <= (?, ?)",
                    (record.citizen_id, edge[0], edge[1]),
                )

    def put_notices(self, records: list[NoticeRecord]) -> None:
        """Insert or replace many notices in one transaction; then each citizen keeps
        only the newest :data:`NOTICE_CAP`."""
        if not records:
            return
        with self._write() as conn:
            conn.executemany(_INSERT, [NOTICE.to_row(r) for r in records])
            for citizen_id in sorted({r.citizen_id for r in records}):
                edge = conn.execute(
                    "SELECT created_at, notice_id FROM notices WHERE citizen_id = ?"
                    " ORDER BY created_at DESC, notice_id DESC LIMIT 1 OFFSET ?",
                    (citizen_id, NOTICE_CAP),
                ).fetchone()
                if edge is not None:
                    conn.execute(
                        "DELETE FROM notices WHERE citizen_id = ?"
                        " AND (created_at, notice_id) <= (?, ?)",
                        (citizen_id, edge[0], edge[1]),
                    )

    def list_notices(self, citizen_id: str, limit: int = 50) -> list[NoticeRecord]:
        """Newest first."""
        check_activity_limit(limit)
        with self._read() as conn:
            rows = conn.execute(
                NOTICE.select("notices")
                + " WHERE citizen_id = ? ORDER BY created_at DESC, notice_id DESC LIMIT ?",
                (citizen_id, limit),
            ).fetchall()
        return [NOTICE.from_row(row) for row in rows]

    def delete_notice(self, citizen_id: str, notice_id: str) -> bool:
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM notices WHERE citizen_id = ? AND notice_id = ?",
                (citizen_id, notice_id),
            )
            return cur.rowcount == 1
