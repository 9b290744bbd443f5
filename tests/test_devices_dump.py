"""Devices at rest (issue 9): after phones registered, received their copies (with every
disclosure) and one was removed, a dump of the store (the SQLite file, every Redis key
and value and an uncompressed RDB snapshot; every master of the Cluster) holds no
citizen id and no claim value in clear, only pseudonyms."""

from __future__ import annotations

from pathlib import Path

from cli.seed import CITIZENS, seed_demo
from tests.api_helpers import AuthActions, services_of
from tests.hygiene import personal_demo
from tests.test_devices_api import DEVICES, copies, new_key, registered
from tests.test_pseudonyms import (
    Backend,
    _app,
    assert_no_personal_data,
    backend,
    dump,
    folder,
)

__all__ = ["backend", "folder"]


def test_a_store_dump_with_devices_holds_no_citizen_id_or_claim(
    backend: Backend, folder: Path
) -> None:
    app = _app(backend, folder)
    try:
        client = app.test_client()
        svc = services_of(app)
        logins = seed_demo(svc.instance, svc.accounts)
        personal_demo(logins)
        auth = AuthActions(client, logins)
        for which in (0, 1):
            headers = auth.citizen(which)
            kept = registered(client, headers, new_key())
            lost = registered(client, headers, new_key())
            assert len(copies(client, headers, kept)) == 1
            assert client.delete(f"{DEVICES}/{lost}", headers=headers).status_code == 204
        data = dump(backend, folder)
        assert b"my phone" in data  # the devices' records (labels in clear) are in the dump
        ids = [c["citizen_id"] for c in CITIZENS]
        assert_no_personal_data(data, svc.instance.pseudonyms, ids)
    finally:
        services_of(app).close()
