"""Project Wycheproof vectors through ecert's signature checks, one test id per case.

Data: ``tests/vectors/wycheproof/`` (Apache-2.0, see its ``LICENSE``), unchanged copies
of ``ecdsa_secp256r1_sha256_p1363_test.json``, ``ed25519_test.json`` and
``json_web_signature_test.json``.

* Every ECDSA P-256/SHA-256 case (IEEE P1363 ``r || s``, which is the JWS ES256 form,
  RFC 7518 §3.4) and every Ed25519 case goes through
  ``keys.signing.VerifyingKey.verify``: ``valid`` must verify, ``invalid`` must raise
  ``SignatureInvalid``, ``acceptable`` may do either and the outcome is recorded as the
  test property ``acceptable_outcome`` (these files currently have no such case).
* The groups' ``publicKeyJwk`` load through ``keys.jwk.public_key_from_jwk``.
* The JWS cases signed with an EC P-256 key go through ``keys.jws.parse_compact`` and
  the signature check; see the comment above ``JWS_TYP``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from keys.b64 import b64url_decode
from keys.errors import EcertError, FormatError, InvalidJWK
from keys.jsonstrict import loads_object
from keys.jwk import public_key_from_jwk, thumbprint
from keys.jws import UnsupportedAlgorithm, WrongType, check_header, parse_compact
from keys.signing import SignatureInvalid, VerifyingKey

VECTORS = Path(__file__).parent / "vectors" / "wycheproof"


def _load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / name).read_text(encoding="utf-8"))
    return data


ECDSA = _load("ecdsa_secp256r1_sha256_p1363_test.json")
EDDSA = _load("ed25519_test.json")
JWS = _load("json_web_signature_test.json")


def _cases(
    groups: list[dict[str, Any]], marks: dict[int, pytest.MarkDecorator] | None = None
) -> list[Any]:
    marks = marks or {}
    return [
        pytest.param(
            group,
            case,
            id=f"tcId-{case['tcId']}",
            marks=[marks[case["tcId"]]] if case["tcId"] in marks else [],
        )
        for group in groups
        for case in group["tests"]
    ]


def _accepts(key: VerifyingKey, case: dict[str, Any]) -> bool:
    """True when the signature verifies, False on ``SignatureInvalid``; anything else raises."""
    try:
        key.verify(bytes.fromhex(case["msg"]), bytes.fromhex(case["sig"]))
    except SignatureInvalid:
        return False
    return True


def _check(accepted: bool, case: dict[str, Any], record_property: Any) -> None:
    if case["result"] == "acceptable":
        record_property("acceptable_outcome", "accepted" if accepted else "rejected")
        return
    expected = case["result"] == "valid"
    assert accepted is expected, f"{case['comment']!r} flags={case['flags']}"


def _p256(group: dict[str, Any]) -> ec.EllipticCurvePublicKey:
    return ec.EllipticCurvePublicKey.from_encoded_point(
        ec.SECP256R1(), bytes.fromhex(group["publicKey"]["uncompressed"])
    )


def _ed25519(group: dict[str, Any]) -> ed25519.Ed25519PublicKey:
    return ed25519.Ed25519PublicKey.from_public_bytes(bytes.fromhex(group["publicKey"]["pk"]))


@pytest.mark.parametrize(
    "doc",
    [
        pytest.param(ECDSA, id="ecdsa_secp256r1_sha256_p1363"),
        pytest.param(EDDSA, id="ed25519"),
        pytest.param(JWS, id="json_web_signature"),
    ],
)
def test_every_case_is_collected(doc: dict[str, Any]) -> None:
    # The parametrisation below is built from these groups: a truncated file would shrink
    # the suite silently, so hold it to the count the file declares.
    assert sum(len(g["tests"]) for g in doc["testGroups"]) == doc["numberOfTests"]


# -- ECDSA P-256 / SHA-256, P1363 encoding = ES256 ------------------------------------


@pytest.mark.parametrize(("group", "case"), _cases(ECDSA["testGroups"]))
def test_ecdsa_p256_sha256(
    group: dict[str, Any], case: dict[str, Any], record_property: Any
) -> None:
    key = VerifyingKey(_p256(group), "ES256", kid="x")
    _check(_accepts(key, case), case, record_property)


# -- Ed25519 = EdDSA --------------------------------------------------------------------


@pytest.mark.parametrize(("group", "case"), _cases(EDDSA["testGroups"]))
def test_ed25519(group: dict[str, Any], case: dict[str, Any], record_property: Any) -> None:
    key = VerifyingKey(_ed25519(group), "EdDSA", kid="x")
    _check(_accepts(key, case), case, record_property)


# -- the groups' public keys as JWKs ------------------------------------------------------

# Nine ECDSA groups (source "github/davidben/ecdsa-r-s-edge-cases") carry no JWK.
_JWK_GROUPS = [
    pytest.param(group, raw, id=f"{name}-group-{i}")
    for name, doc, raw in (("ecdsa", ECDSA, _p256), ("ed25519", EDDSA, _ed25519))
    for i, group in enumerate(doc["testGroups"])
    if "publicKeyJwk" in group
]


_POINT = (Encoding.X962, PublicFormat.UncompressedPoint)
_RAW = (Encoding.Raw, PublicFormat.Raw)


@pytest.mark.parametrize(("group", "raw"), _JWK_GROUPS)
def test_group_jwk_loads(group: dict[str, Any], raw: Any) -> None:
    jwk = group["publicKeyJwk"]
    key, alg = public_key_from_jwk(jwk)
    assert alg == ("ES256" if jwk["kty"] == "EC" else "EdDSA")
    form = _POINT if alg == "ES256" else _RAW
    assert key.public_bytes(*form) == raw(group).public_bytes(*form)
    # The files give every JWK the kid "none"; VerifyingKey.from_jwk only takes a kid
    # that is the RFC 7638 thumbprint, so it refuses these and loads them without it.
    assert jwk["kid"] == "none"
    with pytest.raises(InvalidJWK):
        VerifyingKey.from_jwk(jwk)
    bare = {k: v for k, v in jwk.items() if k != "kid"}
    assert VerifyingKey.from_jwk(bare).kid == thumbprint(bare)


# -- JSON Web Signature --------------------------------------------------------------------

# Our parser requires an exact ``typ`` header, and none of these tokens has one (their
# headers are {"alg": ..., "kid": ...}); their payload is also "foo", not a JSON object,
# which parse_compact refuses too. So no case, not even a valid one, can pass
# parse_compact: ``test_jws_parse_compact`` asserts that every invalid case is rejected
# there (or by the signature check) and that a valid case fails only on its ``typ``.
# ``test_jws_signature_layer`` then runs the same checks minus those two — strict
# base64url, strict header JSON, the header rules of ``check_header`` (alg allow-list,
# no jwk/jku/x5u/x5c/crit), the key from the group's JWK, the signature — which is
# where the Wycheproof cases actually bite.
JWS_TYP = "JWT"
_NO_TYP = "wycheproof-has-no-typ"


def _is_p256(jwk: dict[str, Any] | None) -> bool:
    return jwk is not None and jwk.get("kty") == "EC" and jwk.get("crv") == "P-256"


_JWS_EC = [g for g in JWS["testGroups"] if _is_p256(g.get("public"))]
_JWS_OTHER = [g for g in JWS["testGroups"] if not _is_p256(g.get("public"))]


def _verify_without_typ(token: str, jwk: dict[str, Any]) -> None:
    """parse_compact's checks except ``typ`` and "payload is an object", then the signature.

    Raises an :class:`EcertError` (``FormatError``, ``UnsupportedAlgorithm``,
    ``InvalidJWK`` or ``SignatureInvalid``) for anything it refuses.
    """
    key, alg = public_key_from_jwk(jwk)
    parts = token.split(".")
    if len(parts) != 3:
        raise FormatError("not a compact JWS")
    h64, p64, s64 = parts
    header = loads_object(b64url_decode(h64))
    assert "typ" not in header, "the vectors carry no typ; this helper relies on it"
    check_header({**header, "typ": _NO_TYP}, typ=_NO_TYP)
    b64url_decode(p64)
    signature = b64url_decode(s64)
    VerifyingKey(key, alg, kid="x").verify(f"{h64}.{p64}".encode("ascii"), signature)


@pytest.mark.parametrize(("group", "case"), _cases(_JWS_EC))
def test_jws_parse_compact(group: dict[str, Any], case: dict[str, Any]) -> None:
    with pytest.raises((FormatError, SignatureInvalid, InvalidJWK)) as err:
        # A key published for encryption (use/key_ops) is refused at load (tcId 354, 356).
        key, alg = public_key_from_jwk(group["public"])
        jws = parse_compact(case["jws"], typ=JWS_TYP)
        VerifyingKey(key, alg, kid="x").verify(jws.signing_input, jws.signature)
    if case["result"] == "valid":
        assert isinstance(err.value, WrongType), "a valid case should fail on typ alone"


@pytest.mark.parametrize(("group", "case"), _cases(_JWS_EC))
def test_jws_signature_layer(group: dict[str, Any], case: dict[str, Any]) -> None:
    if case["result"] == "valid":
        _verify_without_typ(case["jws"], group["public"])
    else:
        with pytest.raises(EcertError):
            _verify_without_typ(case["jws"], group["public"])


@pytest.mark.parametrize(("group", "case"), _cases(_JWS_OTHER))
def test_jws_other_algorithms_refused(group: dict[str, Any], case: dict[str, Any]) -> None:
    # HS*, RS*, PS*, ES512 and JSON-serialised tokens: whatever Wycheproof's verdict under
    # their own key, ES256/EdDSA-only ecert must refuse them before any key is needed.
    token = case["jws"]
    with pytest.raises(FormatError):
        parse_compact(token, typ=JWS_TYP)
    # Where the protected header decodes at all, its alg alone is reason to refuse.
    try:
        header = loads_object(b64url_decode(token.split(".")[0]))
    except FormatError:
        return
    with pytest.raises(UnsupportedAlgorithm):
        check_header({**header, "typ": _NO_TYP}, typ=_NO_TYP)
