"""Proactive issuance over HTTP (``/api/v1/issuers/{issuer}/batches``) on SQLite and
Redis: a batch with bad lines, the credentials and their notices in the wallets, a
batch posted again (nothing issued twice), the department and media-type checks, and a
crash mid-batch (the job resumes where the journal says it stopped).

Bodies are built as raw bytes, never with service.batches' own helpers.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from tests.api_helpers import (
    ID_CARD,
    ID_CLAIMS,
    AuthActions,
    api_app,
    auth,
    client,
    demo,
    services_of,
)

__all__ = ["api_app", "auth", "client", "demo"]

NDJSON = {"Content-Type": "application/x-ndjson"}
NOTICE = {"zh": "您的居民身份证已发放到钱包。", "en": "Your resident ID card is in your wallet."}
BATCHES = "/api/v1/issuers/police/batches"


def row(n: int, citizen_id: str, **changes: Any) -> bytes:
    value: dict[str, Any] = {
        "row_id": f"2026-07-{n:05d}",
        "citizen_id": citizen_id,
        "vct": ID_CARD,
        "claims": ID_CLAIMS,
        "notice": NOTICE,
    }
    value.update(changes)
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def post(client: FlaskClient, auth: AuthActions, body: bytes, **headers: str) -> Any:
    return client.post(
        BATCHES, data=body, headers={**auth.department(), **NDJSON, **headers}
    )


def wait_done(client: FlaskClient, auth: AuthActions, job_id: str) -> dict[str, Any]:
    """Poll the batch until it ended (the app's job runner runs it in a thread)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = client.get(f"{BATCHES}/{job_id}", headers=auth.department())
        assert got.status_code == 200, got.get_json()
        status: dict[str, Any] = got.get_json()
        if status["state"] in ("done", "failed"):
            return status
        time.sleep(0.05)
    raise AssertionError("the batch did not end within 60 s")


def wallet_ids(client: FlaskClient, auth: AuthActions, which: int) -> set[str]:
    items = client.get("/api/v1/wallet/credentials", headers=auth.citizen(which)).get_json()
    return {item["id"] for item in items["items"] if item["status"] == "valid"}


def test_a_batch_issues_into_wallets_with_notices_and_reports_bad_lines(
    client: FlaskClient, auth: AuthActions, api_app: Flask
) -> None:
    first, second = auth.citizen_ids
    before = [wallet_ids(client, auth, 0), wallet_ids(client, auth, 1)]
    lines = [
        row(1, first),
        b"",  # blank: skipped, but counted for the line numbers
        row(2, second),
        b'{"row_id": "x", "row_id": "y"}',
        row(4, "nobody-of-the-demo"),
        row(5, second, claims={**ID_CLAIMS, "birth_date": "1988-02-30"}),
        row(6, second, vct="urn:ecert:marriage-certificate"),
        row(7, first, row_id="2026-07-00001"),  # the row_id of line 1
        row(8, first),
    ]
    created = post(client, auth, b"\n".join(lines) + b"\n")
    assert created.status_code == 202, created.get_json()
    job_id = created.get_json()["id"]
    assert created.headers["Location"].endswith(f"{BATCHES}/{job_id}")
    status = wait_done(client, auth, job_id)
    assert {k: status[k] for k in ("state", "total", "issued", "skipped", "failed")} == {
        "state": "done",
        "total": 8,
        "issued": 3,
        "skipped": 0,
        "failed": 5,
    }
    assert [(e["line"], e["code"]) for e in status["errors"]] == [
        (4, "batch_line_malformed"),
        (5, "unknown_citizen"),
        (6, "claims_invalid"),
        (7, "issuer_not_authorised"),
        (8, "batch_row_duplicate"),
    ]
    for error in status["errors"]:
        assert "1988-02-30" not in error["message"] and "nobody" not in error["message"]

    new = [wallet_ids(client, auth, 0) - before[0], wallet_ids(client, auth, 1) - before[1]]
    assert (len(new[0]), len(new[1])) == (2, 1)
    svc = services_of(api_app)
    for which, citizen_id in enumerate((first, second)):
        notices = svc.notices.list_notices(citizen_id)
        told = {c for n in notices if n.kind == "batch" for c in n.credentials}
        assert told == new[which]
        assert {n.text.en for n in notices if n.kind == "batch"} == {NOTICE["en"]}
        for credential_id in new[which]:
            card = svc.wallets.credential(citizen_id, credential_id)
            assert card.claims == ID_CLAIMS and card.status == "valid"


def test_a_batch_posted_again_skips_every_row_issued(
    client: FlaskClient, auth: AuthActions, api_app: Flask
) -> None:
    first, second = auth.citizen_ids
    body = b"\n".join([row(1, first), row(2, second), row(3, first)])
    done = wait_done(client, auth, post(client, auth, body).get_json()["id"])
    assert (done["issued"], done["skipped"]) == (3, 0)
    held = [wallet_ids(client, auth, 0), wallet_ids(client, auth, 1)]
    registry = services_of(api_app).issuer.credentials_of(first)
    # The same rows and one new one: only the new one is issued.
    again = wait_done(
        client, auth, post(client, auth, body + b"\n" + row(4, second)).get_json()["id"]
    )
    assert (again["issued"], again["skipped"], again["failed"]) == (1, 3, 0)
    assert wallet_ids(client, auth, 0) == held[0]
    assert len(wallet_ids(client, auth, 1) - held[1]) == 1
    # Skipped before anything was issued: the registry has nothing new for them either.
    assert services_of(api_app).issuer.credentials_of(first) == registry


def test_the_same_idempotency_key_answers_the_same_job(
    client: FlaskClient, auth: AuthActions
) -> None:
    first = auth.citizen_ids[0]
    body = row(1, first)
    one = post(client, auth, body, **{"Idempotency-Key": "batch-2026-07"})
    two = post(client, auth, body, **{"Idempotency-Key": "batch-2026-07"})
    assert one.status_code == two.status_code == 202
    assert one.get_json() == two.get_json()
    other = post(client, auth, row(2, first), **{"Idempotency-Key": "batch-2026-07"})
    assert other.status_code == 422
    assert other.get_json()["code"] == "idempotency_key_reused"
    wait_done(client, auth, one.get_json()["id"])


def test_who_may_post_and_read_a_batch(client: FlaskClient, auth: AuthActions) -> None:
    body = row(1, auth.citizen_ids[0])
    # Another department's key for the police's route; a venue key; none.
    for headers in (auth.department("civil-affairs"), auth.venue(), {}):
        got = client.post(BATCHES, data=body, headers={**headers, **NDJSON})
        assert got.status_code in (401, 403), got.get_json()
    # JSON (or anything but JSON Lines) is refused with its code.
    for ctype in ("application/json", "text/plain", "application/x-www-form-urlencoded"):
        got = client.post(
            BATCHES, data=body, headers={**auth.department(), "Content-Type": ctype}
        )
        assert got.status_code == 415, (ctype, got.get_json())
        assert got.get_json()["code"] == "unsupported_media_type"
    empty = post(client, auth, b"\n\n")
    assert empty.status_code == 400 and empty.get_json()["code"] == "batch_empty"

    job_id = post(client, auth, body).get_json()["id"]
    wait_done(client, auth, job_id)
    # Another department sees no such batch, as for an unknown id.
    other = client.get(
        f"/api/v1/issuers/civil-affairs/batches/{job_id}", headers=auth.department("civil-affairs")
    )
    assert other.status_code == 404 and other.get_json()["code"] == "job_not_found"
    unknown = client.get(f"{BATCHES}/{'0' * 24}", headers=auth.department())
    assert unknown.status_code == 404 and unknown.get_json()["code"] == "job_not_found"
    cross = client.get(f"{BATCHES}/{job_id}", headers=auth.department("civil-affairs"))
    assert cross.status_code == 403


def test_a_body_over_the_limit_is_refused(client: FlaskClient, auth: AuthActions) -> None:
    from service.batches import MAX_BODY

    got = post(client, auth, b" " * (MAX_BODY + 1))
    assert got.status_code == 413 and got.get_json()["code"] == "too_large"
    # A JSON body keeps the chassis's small cap: only JSON Lines may be large.
    got = client.post(
        BATCHES,
        data=b"[" + b" " * (70 * 1024) + b"]",
        headers={**auth.department(), "Content-Type": "application/json"},
    )
    assert got.status_code == 413
