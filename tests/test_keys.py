"""keys: signing keys, JWK import (strict), RFC 7638 ``kid``s, keys at rest, key states.

Fixed keys are data files in ``tests/keys/`` (RFC 7515 §A.3 P-256, RFC 8037 §A.1
Ed25519, RFC 7638 §3.1 RSA) with their thumbprints and JWS vectors in
``tests/keys/vectors.json``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, x25519
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from keys import (
    InvalidJWK,
    KeySecretMissing,
    KeyState,
    KeyStoreError,
    KeyUnwrapFailed,
    KeyWrapper,
    SignatureInvalid,
    SigningKey,
    VerifyingKey,
    can_transition,
    generate_secret,
    parse_compact,
    public_key_from_jwk,
    sign_compact,
    thumbprint,
)
from keys.b64 import b64url_decode, b64url_encode
from keys.jwk import Alg

KEYS_DIR = Path(__file__).parent / "keys"
VECTORS: dict[str, Any] = json.loads((KEYS_DIR / "vectors.json").read_text(encoding="utf-8"))
P256_FILE = "rfc7515-A3-ES256-private.json"
ED25519_FILE = "rfc8037-A1-Ed25519-private.json"
RSA_FILE = "rfc7638-RSA-public.json"
ALGS: list[Alg] = ["ES256", "EdDSA"]
#: The order of the P-256 group.
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


def load_jwk(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((KEYS_DIR / name).read_text(encoding="utf-8"))
    return data


def signing_key_from_private_jwk(jwk: dict[str, Any]) -> SigningKey:
    """Test helper: the library exports no private-JWK loader, so build it from the numbers."""
    d = b64url_decode(jwk["d"])
    if jwk["kty"] == "EC":
        key = ec.derive_private_key(int.from_bytes(d, "big"), ec.SECP256R1())
        return SigningKey.from_private_key(key)
    return SigningKey.from_private_key(ed25519.Ed25519PrivateKey.from_private_bytes(d))


def public_part(jwk: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k != "d"}


def rfc7638(jwk: dict[str, Any]) -> str:
    """RFC 7638 computed independently of keys.thumbprint (for generated keys)."""
    members = ("crv", "kty", "x", "y") if jwk["kty"] == "EC" else ("crv", "kty", "x")
    canonical = "{" + ",".join(f'"{m}":"{jwk[m]}"' for m in members) + "}"
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


@pytest.fixture
def p256_public() -> dict[str, Any]:
    return public_part(load_jwk(P256_FILE))


@pytest.fixture
def ed25519_public() -> dict[str, Any]:
    return public_part(load_jwk(ED25519_FILE))


# -- fixed keys and spec vectors ---------------------------------------------------------


@pytest.mark.parametrize("name", [P256_FILE, ED25519_FILE, RSA_FILE])
def test_thumbprint_of_fixed_key_is_stable(name: str) -> None:
    assert thumbprint(load_jwk(name)) == VECTORS["thumbprints"][name]


@pytest.mark.parametrize("name", [P256_FILE, ED25519_FILE])
def test_fixed_private_key_kid_is_thumbprint_of_its_public_half(name: str) -> None:
    jwk = load_jwk(name)
    key = signing_key_from_private_jwk(jwk)
    assert key.kid == VECTORS["thumbprints"][name]
    public = key.public_jwk()
    assert "d" not in public
    assert public["kid"] == key.kid
    assert {k: v for k, v in public.items() if k in jwk} == public_part(jwk)
    assert VerifyingKey.from_jwk(public).kid == key.kid


@pytest.mark.parametrize("name", [P256_FILE, ED25519_FILE])
def test_spec_jws_vector_verifies(name: str) -> None:
    h64, p64, s64 = VECTORS["jws"][name].split(".")
    key = VerifyingKey.from_jwk(public_part(load_jwk(name)))
    key.verify(f"{h64}.{p64}".encode(), b64url_decode(s64))
    with pytest.raises(SignatureInvalid):
        key.verify(f"{h64}.{p64}x".encode(), b64url_decode(s64))


def test_ed25519_signature_is_the_rfc8037_vector() -> None:
    h64, p64, s64 = VECTORS["jws"][ED25519_FILE].split(".")
    key = signing_key_from_private_jwk(load_jwk(ED25519_FILE))
    assert b64url_encode(key.sign(f"{h64}.{p64}".encode())) == s64


# -- generation, kid, sign and verify --------------------------------------------------


@pytest.mark.parametrize("alg", ALGS)
def test_generate_gives_the_algorithm_and_a_thumbprint_kid(alg: Alg) -> None:
    key = SigningKey.generate(alg)
    public = key.public_jwk()
    assert key.alg == alg
    assert public["alg"] == alg
    assert (public["kty"], public["crv"]) == (
        ("EC", "P-256") if alg == "ES256" else ("OKP", "Ed25519")
    )
    assert key.kid == rfc7638(dict(public)) == thumbprint(public)
    assert len(b64url_decode(key.kid)) == 32


def test_generated_keys_differ() -> None:
    assert SigningKey.generate().kid != SigningKey.generate().kid


def test_generate_refuses_other_algorithms() -> None:
    with pytest.raises(KeyStoreError):
        SigningKey.generate("RS256")  # type: ignore[arg-type]  # deliberately not the declared type: the runtime check is under test


def test_from_private_key_refuses_p384() -> None:
    with pytest.raises(KeyStoreError):
        SigningKey.from_private_key(ec.generate_private_key(ec.SECP384R1()))


@pytest.mark.parametrize("alg", ALGS)
def test_sign_verify_round_trip(alg: Alg) -> None:
    key = SigningKey.generate(alg)
    signature = key.sign(b"header.payload")
    assert len(signature) == 64
    key.verifying_key().verify(b"header.payload", signature)
    VerifyingKey.from_jwk(key.public_jwk()).verify(b"header.payload", signature)


@pytest.mark.parametrize("alg", ALGS)
def test_verify_raises_on_tampered_data(alg: Alg) -> None:
    key = SigningKey.generate(alg)
    signature = key.sign(b"header.payload")
    with pytest.raises(SignatureInvalid):
        key.verifying_key().verify(b"header.paylOad", signature)


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("position", [0, 31, 32, 63])
def test_verify_raises_on_tampered_signature(alg: Alg, position: int) -> None:
    key = SigningKey.generate(alg)
    signature = bytearray(key.sign(b"data"))
    signature[position] ^= 0x01
    with pytest.raises(SignatureInvalid):
        key.verifying_key().verify(b"data", bytes(signature))


@pytest.mark.parametrize("alg", ALGS)
@pytest.mark.parametrize("length", [0, 63, 65, 72], ids=lambda n: f"{n}-bytes")
def test_verify_raises_on_signature_of_wrong_length(alg: Alg, length: int) -> None:
    key = SigningKey.generate(alg)
    good = key.sign(b"data")
    bad = (good + good)[:length]
    with pytest.raises(SignatureInvalid):
        key.verifying_key().verify(b"data", bad)


@pytest.mark.parametrize("alg", ALGS)
def test_verify_raises_on_another_keys_signature(alg: Alg) -> None:
    signature = SigningKey.generate(alg).sign(b"data")
    with pytest.raises(SignatureInvalid):
        SigningKey.generate(alg).verifying_key().verify(b"data", signature)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda s: bytes(64), id="all-zero"),
        pytest.param(lambda s: b"\xff" * 64, id="all-ones"),
        pytest.param(lambda s: P256_N.to_bytes(32, "big") + s[32:], id="r-equals-n"),
        pytest.param(lambda s: s[:32] + P256_N.to_bytes(32, "big"), id="s-equals-n"),
    ],
)
def test_es256_verify_raises_on_out_of_range_signature(make: Any) -> None:
    key = SigningKey.generate("ES256")
    with pytest.raises(SignatureInvalid):
        key.verifying_key().verify(b"data", make(key.sign(b"data")))


def test_signing_key_repr_shows_no_private_material() -> None:
    jwk = load_jwk(P256_FILE)
    key = signing_key_from_private_jwk(jwk)
    d_int = str(int.from_bytes(b64url_decode(jwk["d"]), "big"))
    for text in (repr(key), str(key)):
        assert jwk["d"] not in text
        assert d_int not in text
        assert key.kid in text


def test_sign_compact_header_is_alg_typ_kid_and_parses_back() -> None:
    key = SigningKey.generate("EdDSA")
    token = sign_compact({"hello": "世界"}, key, typ="example+jwt")
    jws = parse_compact(token, typ="example+jwt")
    assert jws.header == {"alg": "EdDSA", "typ": "example+jwt", "kid": key.kid}
    assert jws.payload == {"hello": "世界"}
    key.verifying_key().verify(jws.signing_input, jws.signature)


# -- public_key_from_jwk: strict import ------------------------------------------------


def test_public_key_from_jwk_loads_both_types(
    p256_public: dict[str, Any], ed25519_public: dict[str, Any]
) -> None:
    key, alg = public_key_from_jwk(p256_public)
    assert alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey)
    key, alg = public_key_from_jwk(ed25519_public)
    assert alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey)


def test_public_key_from_jwk_accepts_matching_alg_and_extra_members(
    p256_public: dict[str, Any],
) -> None:
    public_key_from_jwk({**p256_public, "alg": "ES256", "use": "sig", "kid": "anything"})


@pytest.mark.parametrize("member", ["d", "p", "q", "dp", "dq", "qi", "k"])
@pytest.mark.parametrize("name", [P256_FILE, ED25519_FILE])
def test_public_key_from_jwk_rejects_private_members(name: str, member: str) -> None:
    jwk = public_part(load_jwk(name))
    jwk[member] = load_jwk(name)["d"]
    with pytest.raises(InvalidJWK, match="private"):
        public_key_from_jwk(jwk)


def _ec_jwk(curve: ec.EllipticCurve, crv: str) -> dict[str, Any]:
    numbers = ec.generate_private_key(curve).public_key().public_numbers()
    size = (curve.key_size + 7) // 8
    return {
        "kty": "EC",
        "crv": crv,
        "x": b64url_encode(numbers.x.to_bytes(size, "big")),
        "y": b64url_encode(numbers.y.to_bytes(size, "big")),
    }


def _x25519_jwk() -> dict[str, Any]:
    from cryptography.hazmat.primitives.serialization import PublicFormat

    raw = (
        x25519.X25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    )
    return {"kty": "OKP", "crv": "X25519", "x": b64url_encode(raw)}


def _without(jwk: dict[str, Any], member: str) -> dict[str, Any]:
    return {k: v for k, v in jwk.items() if k != member}


def _p256() -> dict[str, Any]:
    return public_part(load_jwk(P256_FILE))


def _ed25519() -> dict[str, Any]:
    return public_part(load_jwk(ED25519_FILE))


#: JWKs of key types and curves that ecert never accepts.
FOREIGN_JWKS: dict[str, Any] = {
    "P-384": lambda: _ec_jwk(ec.SECP384R1(), "P-384"),
    "secp256k1": lambda: _ec_jwk(ec.SECP256K1(), "secp256k1"),
    "P-384-labelled-P-256": lambda: {**_ec_jwk(ec.SECP384R1(), "P-384"), "crv": "P-256"},
    "RSA": lambda: load_jwk(RSA_FILE),
    "X25519": _x25519_jwk,
    "Ed448": lambda: {**_x25519_jwk(), "crv": "Ed448"},
    "P-256-labelled-OKP": lambda: {**_p256(), "kty": "OKP"},
    "Ed25519-labelled-EC": lambda: {**_ed25519(), "kty": "EC"},
    "no-kty": lambda: _without(_p256(), "kty"),
    "no-crv": lambda: _without(_p256(), "crv"),
    "symmetric": lambda: {"kty": "oct", "k": "c2VjcmV0"},
}


@pytest.mark.parametrize("name", list(FOREIGN_JWKS))
def test_public_key_from_jwk_rejects_other_types_and_curves(name: str) -> None:
    with pytest.raises(InvalidJWK):
        public_key_from_jwk(FOREIGN_JWKS[name]())


def _resize(text: str, size: int) -> str:
    raw = b64url_decode(text)
    return b64url_encode((raw + raw)[:size])


@pytest.mark.parametrize("member", ["x", "y"])
@pytest.mark.parametrize("size", [0, 31, 33, 64])
def test_public_key_from_jwk_rejects_p256_coordinates_of_wrong_length(
    p256_public: dict[str, Any], member: str, size: int
) -> None:
    p256_public[member] = _resize(p256_public[member], size)
    with pytest.raises(InvalidJWK):
        public_key_from_jwk(p256_public)


@pytest.mark.parametrize("size", [0, 31, 33])
def test_public_key_from_jwk_rejects_ed25519_x_of_wrong_length(
    ed25519_public: dict[str, Any], size: int
) -> None:
    ed25519_public["x"] = _resize(ed25519_public["x"], size)
    with pytest.raises(InvalidJWK):
        public_key_from_jwk(ed25519_public)


@pytest.mark.parametrize("member", ["x", "y"])
@pytest.mark.parametrize("value", [None, 12345, ["a"]], ids=["missing", "integer", "array"])
def test_public_key_from_jwk_rejects_missing_or_non_string_coordinates(
    p256_public: dict[str, Any], member: str, value: object
) -> None:
    if value is None:
        del p256_public[member]
    else:
        p256_public[member] = value
    with pytest.raises(InvalidJWK):
        public_key_from_jwk(p256_public)


def _non_canonical(text: str, how: str) -> str:
    if how == "padded":
        return text + "="
    if how == "standard-alphabet":
        assert "_" in text or "-" in text
        return text.replace("_", "/").replace("-", "+")
    if how == "trailing-bits":
        # 32 bytes are 43 characters; the last one carries 2 unused bits.
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        return text[:-1] + alphabet[alphabet.index(text[-1]) | 1]
    if how == "whitespace":
        return text[:10] + " " + text[10:]
    return text[:10] + "\n" + text[10:]


@pytest.mark.parametrize(
    "how", ["padded", "standard-alphabet", "trailing-bits", "whitespace", "newline"]
)
def test_public_key_from_jwk_rejects_non_canonical_base64url(
    p256_public: dict[str, Any], how: str
) -> None:
    # y of the RFC 7515 key contains '_' and ends in a character with zero unused bits.
    y = p256_public["y"]
    bad = _non_canonical(y, how)
    assert bad != y
    if how in ("standard-alphabet", "trailing-bits"):
        # the same bytes under a lenient decoder: only canonical form tells them apart
        assert base64.urlsafe_b64decode(bad + "=") == b64url_decode(y)
    p256_public["y"] = bad
    with pytest.raises(InvalidJWK):
        public_key_from_jwk(p256_public)


@pytest.mark.parametrize("delta", [1, -1], ids=["y-plus-1", "y-minus-1"])
def test_public_key_from_jwk_rejects_a_point_not_on_the_curve(
    p256_public: dict[str, Any], delta: int
) -> None:
    y = int.from_bytes(b64url_decode(p256_public["y"]), "big")
    p256_public["y"] = b64url_encode((y + delta).to_bytes(32, "big"))
    with pytest.raises(InvalidJWK):
        public_key_from_jwk(p256_public)


def test_public_key_from_jwk_rejects_the_point_at_zero(p256_public: dict[str, Any]) -> None:
    p256_public["x"] = p256_public["y"] = b64url_encode(bytes(32))
    with pytest.raises(InvalidJWK):
        public_key_from_jwk(p256_public)


@pytest.mark.parametrize(
    ("name", "alg"),
    [
        pytest.param(P256_FILE, "EdDSA", id="P-256-EdDSA"),
        pytest.param(P256_FILE, "ES384", id="P-256-ES384"),
        pytest.param(P256_FILE, "ES256K", id="P-256-ES256K"),
        pytest.param(P256_FILE, "HS256", id="P-256-HS256"),
        pytest.param(P256_FILE, "none", id="P-256-none"),
        pytest.param(ED25519_FILE, "ES256", id="Ed25519-ES256"),
        pytest.param(ED25519_FILE, "Ed25519", id="Ed25519-Ed25519"),
    ],
)
def test_public_key_from_jwk_rejects_alg_not_matching_the_key(name: str, alg: str) -> None:
    with pytest.raises(InvalidJWK, match="alg"):
        public_key_from_jwk({**public_part(load_jwk(name)), "alg": alg})


@pytest.mark.parametrize(
    "extra",
    [{"use": "enc"}, {"key_ops": ["encrypt"]}, {"key_ops": "verify"}, {"key_ops": []}],
    ids=["use-enc", "key-ops-encrypt", "key-ops-not-a-list", "key-ops-empty"],
)
def test_public_key_from_jwk_rejects_keys_published_for_another_use(
    p256_public: dict[str, Any], extra: dict[str, Any]
) -> None:
    with pytest.raises(InvalidJWK):
        public_key_from_jwk({**p256_public, **extra})


def test_public_key_from_jwk_accepts_signature_use(p256_public: dict[str, Any]) -> None:
    public_key_from_jwk({**p256_public, "use": "sig", "key_ops": ["verify"]})


@pytest.mark.parametrize("value", [None, "a string", ["x"]], ids=["null", "string", "array"])
def test_public_key_from_jwk_rejects_a_jwk_that_is_not_an_object(value: object) -> None:
    with pytest.raises(InvalidJWK):
        public_key_from_jwk(value)  # type: ignore[arg-type]  # deliberately not the declared type: the runtime check is under test


# -- VerifyingKey.from_jwk: the kid is always ours --------------------------------------


@pytest.mark.parametrize("name", [P256_FILE, ED25519_FILE])
def test_verifying_key_from_jwk_accepts_the_thumbprint_kid(name: str) -> None:
    jwk = {**public_part(load_jwk(name)), "kid": VECTORS["thumbprints"][name]}
    assert VerifyingKey.from_jwk(jwk).kid == VECTORS["thumbprints"][name]


@pytest.mark.parametrize("name", [P256_FILE, ED25519_FILE])
def test_verifying_key_from_jwk_computes_the_kid_when_absent(name: str) -> None:
    assert VerifyingKey.from_jwk(public_part(load_jwk(name))).kid == VECTORS["thumbprints"][name]


@pytest.mark.parametrize(
    "kid",
    [
        "2011-04-29",
        "",
        12345,
        VECTORS["thumbprints"][RSA_FILE],
        VECTORS["thumbprints"][P256_FILE] + "=",
    ],
    ids=["label", "empty", "integer", "another-keys-thumbprint", "padded"],
)
def test_verifying_key_from_jwk_rejects_a_kid_that_is_not_the_thumbprint(kid: object) -> None:
    with pytest.raises(InvalidJWK, match="kid"):
        VerifyingKey.from_jwk({**public_part(load_jwk(P256_FILE)), "kid": kid})


def test_verifying_key_to_jwk_round_trips() -> None:
    key = SigningKey.generate("EdDSA").verifying_key()
    assert VerifyingKey.from_jwk(key.to_jwk()).to_jwk() == key.to_jwk()


# -- KeyWrapper: private keys at rest ------------------------------------------------------


def _private_der(key: SigningKey) -> bytes:
    return key.key.private_bytes(Encoding.DER, PrivateFormat.PKCS8, NoEncryption())


@pytest.mark.parametrize("alg", ALGS)
def test_wrap_unwrap_round_trip(alg: Alg) -> None:
    wrapper = KeyWrapper(generate_secret())
    key = SigningKey.generate(alg)
    blob = wrapper.wrap(key)
    opened = wrapper.unwrap(blob, key.kid)
    assert (opened.kid, opened.alg) == (key.kid, key.alg)
    assert _private_der(opened) == _private_der(key)
    key.verifying_key().verify(b"data", opened.sign(b"data"))


@pytest.mark.parametrize("alg", ALGS)
def test_wrapped_blob_hides_the_private_key_and_is_fresh_each_time(alg: Alg) -> None:
    wrapper = KeyWrapper(generate_secret())
    key = SigningKey.generate(alg)
    blob1, blob2 = wrapper.wrap(key), wrapper.wrap(key)
    assert blob1 != blob2  # fresh nonce
    private = key.key
    if isinstance(private, ec.EllipticCurvePrivateKey):
        raw = private.private_numbers().private_value.to_bytes(32, "big")
    else:
        raw = private.private_bytes_raw()
    assert raw not in blob1 and _private_der(key) not in blob1


def test_raw_32_byte_secret_equals_its_base64url_text() -> None:
    raw = bytes(range(32))
    key = SigningKey.generate()
    blob = KeyWrapper(raw).wrap(key)
    assert KeyWrapper(b64url_encode(raw)).unwrap(blob, key.kid).kid == key.kid


def test_generate_secret_is_256_random_bits() -> None:
    secrets_ = {generate_secret() for _ in range(8)}
    assert len(secrets_) == 8
    assert all(len(b64url_decode(s)) == 32 for s in secrets_)


@pytest.mark.parametrize("alg", ALGS)
def test_unwrap_with_another_secret_fails(alg: Alg) -> None:
    key = SigningKey.generate(alg)
    blob = KeyWrapper(generate_secret()).wrap(key)
    with pytest.raises(KeyUnwrapFailed):
        KeyWrapper(generate_secret()).unwrap(blob, key.kid)


def test_unwrap_under_another_kid_fails() -> None:
    wrapper = KeyWrapper(generate_secret())
    key, other = SigningKey.generate(), SigningKey.generate()
    with pytest.raises(KeyUnwrapFailed):
        wrapper.unwrap(wrapper.wrap(key), other.kid)


def test_swapped_blobs_fail() -> None:
    wrapper = KeyWrapper(generate_secret())
    key, other = SigningKey.generate(), SigningKey.generate("EdDSA")
    blobs = {key.kid: wrapper.wrap(key), other.kid: wrapper.wrap(other)}
    with pytest.raises(KeyUnwrapFailed):
        wrapper.unwrap(blobs[other.kid], key.kid)
    with pytest.raises(KeyUnwrapFailed):
        wrapper.unwrap(blobs[key.kid], other.kid)


@pytest.mark.parametrize(
    "position",
    [0, 2, 3, 14, 15, 40, -16, -1],
    ids=[
        "magic-0", "magic-2", "nonce-0", "nonce-11",
        "ciphertext-0", "ciphertext-40", "tag-0", "tag-15",
    ],
)  # fmt: skip
def test_unwrap_of_a_tampered_blob_fails(position: int) -> None:
    wrapper = KeyWrapper(generate_secret())
    key = SigningKey.generate()
    blob = bytearray(wrapper.wrap(key))
    blob[position] ^= 0x01
    with pytest.raises(KeyUnwrapFailed):
        wrapper.unwrap(bytes(blob), key.kid)


@pytest.mark.parametrize("cut", [0, 3, 15, 30, -1], ids=lambda n: f"cut-at-{n}")
def test_unwrap_of_a_truncated_blob_fails(cut: int) -> None:
    wrapper = KeyWrapper(generate_secret())
    key = SigningKey.generate()
    with pytest.raises(KeyUnwrapFailed):
        wrapper.unwrap(wrapper.wrap(key)[:cut], key.kid)


def test_unwrap_under_a_non_ascii_kid_fails_cleanly() -> None:
    wrapper = KeyWrapper(generate_secret())
    key = SigningKey.generate()
    with pytest.raises(KeyUnwrapFailed):
        wrapper.unwrap(wrapper.wrap(key), "clé")


@pytest.mark.parametrize("secret", [None, "", b""], ids=["none", "empty-text", "empty-bytes"])
def test_missing_secret_raises_key_secret_missing(secret: str | bytes | None) -> None:
    with pytest.raises(KeySecretMissing) as info:
        KeyWrapper(secret)
    assert info.value.code == "key_secret_missing"
    assert isinstance(info.value, KeyStoreError)


@pytest.mark.parametrize(
    "secret",
    [
        "c2hvcnQtc2VjcmV0",  # "short-secret"
        b64url_encode(bytes(range(16))),
        b64url_encode(bytes(range(31))),
        b64url_encode(bytes(range(33))),
        bytes(range(31)),
        bytes(range(64)),
        "correct horse battery staple",
    ],
    ids=[
        "text-12-bytes", "text-16-bytes", "text-31-bytes", "text-33-bytes",
        "raw-31", "raw-64", "passphrase",
    ],
)  # fmt: skip
def test_secret_that_is_not_256_bits_raises_key_store_error(secret: str | bytes) -> None:
    with pytest.raises(KeyStoreError) as info:
        KeyWrapper(secret)
    assert not isinstance(info.value, KeySecretMissing)


def _texts_of(err: BaseException) -> list[str]:
    """Every text an exception chain would show in a log or traceback."""
    out: list[str] = []
    seen: BaseException | None = err
    while seen is not None:
        out += [str(seen), repr(seen), *map(str, seen.args)]
        seen = seen.__cause__ or seen.__context__
    return out


def test_secret_never_appears_in_repr_or_errors() -> None:
    secret = generate_secret()
    raw_hex = b64url_decode(secret).hex()
    wrapper = KeyWrapper(secret)
    key = SigningKey.generate()
    blob = wrapper.wrap(key)
    texts = [repr(wrapper), str(wrapper)]

    failures: list[BaseException] = []
    with pytest.raises(KeyUnwrapFailed) as info:
        KeyWrapper(generate_secret()).unwrap(blob, key.kid)
    failures.append(info.value)
    with pytest.raises(KeyUnwrapFailed) as info:
        wrapper.unwrap(blob[:-1] + bytes([blob[-1] ^ 1]), key.kid)
    failures.append(info.value)
    with pytest.raises(KeyUnwrapFailed) as info:
        wrapper.unwrap(blob, SigningKey.generate().kid)
    failures.append(info.value)
    for bad_secret in (secret[:20], secret + "AAAA", secret[:-1] + "!"):
        with pytest.raises(KeyStoreError) as store_info:
            KeyWrapper(bad_secret)
        failures.append(store_info.value)
    for failure in failures:
        texts += _texts_of(failure)

    for text in texts:
        assert secret not in text
        assert secret[:20] not in text
        assert raw_hex not in text
    assert "hidden" in repr(wrapper)


# -- key states ------------------------------------------------------------------------

P, A, R, C = KeyState.PENDING, KeyState.ACTIVE, KeyState.RETIRED, KeyState.COMPROMISED
#: The life cycle: pending → active → retired; any state → compromised; nothing back.
ALLOWED = {(P, A), (P, R), (P, C), (A, R), (A, C), (R, C)}


@pytest.mark.parametrize(
    ("current", "new"),
    [(c, n) for c in KeyState for n in KeyState],
    ids=lambda s: s.value,
)
def test_can_transition_follows_the_life_cycle(current: KeyState, new: KeyState) -> None:
    assert can_transition(current, new) is ((current, new) in ALLOWED)


def test_pending_to_active_is_allowed() -> None:
    assert can_transition(KeyState.PENDING, KeyState.ACTIVE)


@pytest.mark.parametrize("new", list(KeyState), ids=lambda s: s.value)
def test_compromised_is_terminal(new: KeyState) -> None:
    assert not can_transition(KeyState.COMPROMISED, new)


def test_only_active_keys_sign_and_only_compromised_keys_are_unpublished() -> None:
    assert [s for s in KeyState if s.signs] == [KeyState.ACTIVE]
    assert [s for s in KeyState if not s.published] == [KeyState.COMPROMISED]


def test_a_secret_with_characters_outside_base64url_is_refused() -> None:
    secret = generate_secret()
    with pytest.raises(KeyStoreError) as info:
        KeyWrapper(secret[:10] + "!" + secret[10:])
    assert secret not in str(info.value)
