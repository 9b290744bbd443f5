"""The device key proof (OpenID4VCI 1.0 §8.2.1.1) checked by the domain module alone,
on tokens built here from raw JSON and bytes, and the nonce spent once under a race."""

from __future__ import annotations

import base64
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from keys.errors import EcertError
from service.instance import open_instance
from tests.api_helpers import BASE_URL
from tests.hygiene import personal
from tests.test_devices_api import PROOF_TYP, b64, jws, new_key, proof, public_jwk
from wallet.device_proof import MAX_PROOF_LENGTH, verify_device_proof
from wallet.errors import DeviceNonceInvalid

NOW = 1_800_000_000


def token(
    key: ec.EllipticCurvePrivateKey, jwk: dict[str, Any] | None = None, **payload: Any
) -> str:
    header = {"typ": PROOF_TYP, "alg": "ES256", "jwk": jwk or public_jwk(key)}
    return jws(header, {"aud": BASE_URL, "iat": NOW, "nonce": "n0nce", **payload}, key)


def refused(text: object) -> str:
    with pytest.raises(EcertError) as caught:
        verify_device_proof(text, aud=BASE_URL, now=NOW)
    return caught.value.code


def test_a_webcrypto_shaped_key_is_accepted_and_normalised() -> None:
    key = new_key()
    # what crypto.subtle.exportKey("jwk", publicKey) gives for an ECDSA P-256 key
    exported = {**public_jwk(key), "ext": True, "key_ops": ["verify"]}
    checked = verify_device_proof(token(key, exported), aud=BASE_URL, now=NOW)
    assert checked.jwk == public_jwk(key)  # what goes into cnf.jwk: the key alone
    assert checked.nonce == "n0nce" and checked.iat == NOW
    assert refused(token(key, {**exported, "key_ops": ["sign"]})) == "device_key_invalid"
    assert refused(token(key, {**exported, "use": "enc"})) == "device_key_invalid"


def test_iat_is_checked_both_ways_within_the_leeway() -> None:
    key = new_key()
    for iat in (NOW - 60, NOW + 60):
        verify_device_proof(token(key, iat=iat), aud=BASE_URL, now=NOW)
    for iat in (NOW - 61, NOW + 61):
        assert refused(token(key, iat=iat)) == "device_proof_stale"
    bad: list[object] = [True, 1.5e9, None, [NOW]]
    for value in bad:
        assert refused(token(key, iat=value)) == "device_proof_invalid"


def test_malformed_tokens_are_refused_with_the_family_code() -> None:
    key = new_key()
    good = token(key)
    h, p, s = good.split(".")
    duplicate = b64(b'{"typ":"%s","typ":"%s","alg":"ES256"}' % (PROOF_TYP.encode(), b"JWT"))
    for text in (
        None,
        42,
        "",
        good + ".",
        f"{h}.{p}",
        f"{h}.{p}.{s}=",
        f"{h}.{p}.{s}é",
        f"{duplicate}.{p}.{s}",
        f"{b64(b'[1]')}.{p}.{s}",
        f"{h}.{b64(b'not json')}.{s}",
        "a" * (MAX_PROOF_LENGTH + 1),
        token(key, aud=[BASE_URL]),
        token(key, nonce=""),
        token(key, nonce="n" * 129),
        token(key, nonce=7),
    ):
        code = refused(text)
        assert code.startswith("device_"), (str(text)[:30], code)
    assert refused(token(key, aud=[BASE_URL])) == "device_proof_audience"
    assert refused(token(key, aud=BASE_URL + "/")) == "device_proof_audience"


def test_a_point_off_the_curve_and_a_short_coordinate_are_refused() -> None:
    key = new_key()
    jwk = public_jwk(key)
    y = bytearray(base64.urlsafe_b64decode(jwk["y"] + "="))
    y[-1] ^= 1
    assert refused(token(key, {**jwk, "y": b64(bytes(y))})) == "device_key_invalid"
    assert refused(token(key, {**jwk, "x": jwk["x"][:-2]})) == "device_key_invalid"
    assert refused(token(key, {"kty": "OKP", "crv": "Ed25519", "x": jwk["x"]})) == (
        "device_key_invalid"
    )


def test_a_nonce_is_spent_once_under_a_race(tmp_path: Path, redis_server: str) -> None:
    """Eight registrations race with one nonce on a real Redis: exactly one passes."""
    with open_instance(tmp_path / "i", base_url=BASE_URL, redis_url=redis_server) as ecert:
        try:
            citizen = personal("110101199001010015", "a citizen id")
            ecert.accounts.create_citizen(citizen, None)
            session = "race-session"
            nonce = ecert.devices.nonce(citizen, session).c_nonce
            proofs = [proof(new_key(), nonce) for _ in range(8)]
            results: list[str] = []
            lock = threading.Lock()

            def go(text: str) -> None:
                try:
                    ecert.devices.register(citizen, session, text, "phone")
                    got = "ok"
                except DeviceNonceInvalid as err:
                    got = err.code
                with lock:
                    results.append(got)

            threads = [threading.Thread(target=go, args=(p,)) for p in proofs]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(results) == ["device_nonce_invalid"] * 7 + ["ok"]
            assert len(ecert.devices.list_devices(citizen)) == 1
        finally:
            ecert.store.client.flushdb()  # type: ignore[attr-defined]


def test_the_proof_helper_matches_what_a_browser_signs() -> None:
    """The tests' proofs are plain JSON and raw r||s, as WebCrypto makes them."""
    key = new_key()
    text = proof(key, "abc")
    header = json.loads(base64.urlsafe_b64decode(text.split(".")[0] + "=="))
    assert header == {"typ": PROOF_TYP, "alg": "ES256", "jwk": public_jwk(key)}
    assert len(base64.urlsafe_b64decode(text.split(".")[2] + "==")) == 64
    verify_device_proof(text, aud=BASE_URL, now=time.time())
