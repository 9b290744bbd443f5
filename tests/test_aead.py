"""The one AEAD envelope (keys/aead.py), and blobs written by the three copies it replaced.

``tests/vectors/aead_legacy.json`` was produced by the code before the envelope existed
(keys/keystore.py ``KeyWrapper.wrap``, wallet/vault.py ``_seal``, service/presentations.py
``QrPresentations._put``): stored blobs of existing instances must still open.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from keys import KeyUnwrapFailed, KeyWrapper
from keys.aead import NONCE_BYTES, TAG_BYTES, Envelope, open_sealed, seal
from keys.errors import SealBroken
from service.presentations import QrPresentations
from store.interface import QR_PRESENTATION, Store
from wallet import WalletCorrupt

LEGACY: dict[str, Any] = json.loads(
    (Path(__file__).parent / "vectors" / "aead_legacy.json").read_text(encoding="utf-8")
)
KEY = bytes(range(32))


def test_seal_then_open() -> None:
    env = Envelope(KEY, b"T1")
    blob = env.seal(b"plain", b"aad")
    assert blob.startswith(b"T1")
    assert len(blob) == 2 + NONCE_BYTES + len(b"plain") + TAG_BYTES
    assert env.open(blob, b"aad") == b"plain"
    assert open_sealed(KEY, seal(KEY, b"x", b"a", prefix=b"Z9"), b"a", prefix=b"Z9") == b"x"


def test_two_seals_never_share_a_nonce() -> None:
    env = Envelope(KEY, b"T1")
    nonces = {env.seal(b"", b"")[2 : 2 + NONCE_BYTES] for _ in range(200)}
    assert len(nonces) == 200


def _refusals(blob: bytes) -> list[tuple[str, bytes, bytes, bytes, bytes]]:
    """(what, key, prefix, blob, aad) that must each be refused."""
    cases = [
        ("other key", bytes(32), b"T1", blob, b"aad"),
        ("other aad", KEY, b"T1", blob, b"aad2"),
        ("no aad", KEY, b"T1", blob, b""),
        ("other prefix", KEY, b"T2", blob, b"aad"),
        ("truncated tag", KEY, b"T1", blob[:-1], b"aad"),
        ("prefix and nonce only", KEY, b"T1", blob[: 2 + NONCE_BYTES], b"aad"),
        ("empty", KEY, b"T1", b"", b"aad"),
        ("extra byte", KEY, b"T1", blob + b"\x00", b"aad"),
    ]
    for i in range(len(blob)):
        flipped = bytearray(blob)
        flipped[i] ^= 0x01
        cases.append((f"bit flipped at {i}", KEY, b"T1", bytes(flipped), b"aad"))
    return cases


def test_every_change_is_refused_with_one_code() -> None:
    blob = Envelope(KEY, b"T1").seal(b"plain text", b"aad")
    for what, key, prefix, candidate, aad in _refusals(blob):
        with pytest.raises(SealBroken) as caught:
            Envelope(key, prefix).open(candidate, aad)
        assert caught.value.code == "seal_broken", what


def test_bad_keys_and_prefixes_are_refused() -> None:
    for key in (b"", bytes(16), bytes(31), bytes(33)):
        with pytest.raises(SealBroken):
            Envelope(key, b"T1")
    for prefix in (b"", b"123456789", "é".encode()):
        with pytest.raises(SealBroken):
            Envelope(KEY, prefix)
    assert "00" * 8 not in repr(Envelope(bytes(32), b"T1"))


# -- blobs written before the envelope ----------------------------------------------------


def test_a_private_key_wrapped_by_the_old_keystore_opens() -> None:
    v = LEGACY["keystore"]
    wrapper = KeyWrapper(bytes.fromhex(v["secret_hex"]))
    key = wrapper.unwrap(bytes.fromhex(v["blob_hex"]), v["kid"])
    assert key.kid == v["kid"]
    assert dict(key.public_jwk()) == v["public_jwk"]
    # and what the envelope writes today is the same format
    assert wrapper.unwrap(wrapper.wrap(key), key.kid).kid == key.kid
    with pytest.raises(KeyUnwrapFailed):
        wrapper.unwrap(bytes.fromhex(v["blob_hex"])[:-1], v["kid"])


def test_wallet_blobs_of_the_old_vault_open() -> None:
    v = LEGACY["vault"]
    outer = Envelope(bytes.fromhex(v["wallet_key_hex"]), b"W1")
    cid = v["citizen_id"].encode()
    data_key = outer.open(bytes.fromhex(v["key_blob_hex"]), b"ecert-wallet:data-key:" + cid)
    inner = Envelope(data_key, b"W1")
    der = inner.open(bytes.fromhex(v["holder_blob_hex"]), b"ecert-wallet:holder:" + cid)
    assert der.startswith(b"\x30")
    aad = b"ecert-wallet:item:" + cid + b"\x00" + v["credential_id"].encode()
    assert inner.open(bytes.fromhex(v["item_blob_hex"]), aad).decode() == v["sd_jwt"]


def test_a_presentation_entry_of_the_old_online_module_opens(store: Store) -> None:
    v = LEGACY["online"]
    now = float(v["expires_at"] - 60)
    space, _, name = v["store_key"].partition(":")
    assert space == QR_PRESENTATION.name
    assert store.once(QR_PRESENTATION).put(name, bytes.fromhex(v["blob_hex"]), v["expires_at"], now)
    qr = QrPresentations(
        store, bytes.fromhex(v["key_hex"]), "https://ecert.example", clock=lambda: now
    )
    shown = qr.get(v["owner"], v["presentation_id"])
    assert (shown.qr, shown.expires_at, shown.credential_id) == (
        v["qr"],
        v["expires_at"],
        v["credential_id"],
    )
    other = QrPresentations(store, bytes(32), "https://ecert.example", clock=lambda: now)
    with pytest.raises(WalletCorrupt):
        other.get(v["owner"], v["presentation_id"])
