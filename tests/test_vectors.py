"""The standards' own test vectors, verbatim, one test id per case.

Data in ``tests/vectors/`` (``README.md`` there names each source):

* RFC 7638 §3.1: the example RSA JWK and its thumbprint.
* draft-ietf-oauth-status-list (Token Status List): the byte-array/JSON examples of the
  "Status List" section and the appendix "Test vectors for Status List encoding".
* RFC 9901 (SD-JWT): §4.2 Disclosure examples; §5 "Example SD-JWT" (§5.1 issuance,
  §5.2 presentation with Key Binding); Appendix A.5 Issuer key; and the rejection rules
  of §7.1 exercised on the §5 example.
"""

from __future__ import annotations

import copy
import json
import zlib
from functools import partial
from pathlib import Path
from typing import Any

import pytest

import sdjwt
from keys.b64 import b64url_decode, b64url_encode
from keys.jwk import thumbprint
from keys.jws import parse_compact
from keys.signing import SignatureInvalid, VerifyingKey
from sdjwt import DisclosureInvalid, StatusList

VECTORS = Path(__file__).parent / "vectors"
RFC9901 = VECTORS / "rfc9901"


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _unwrap(path: Path) -> str:
    """A base64url string the RFC printed over several lines, with the line breaks removed."""
    return "".join(path.read_text(encoding="ascii").split())


# -- RFC 7638 §3.1 -----------------------------------------------------------------------


def test_rfc7638_example_thumbprint() -> None:
    jwk = _json(VECTORS / "rfc7638_example.json")
    assert thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


# -- Token Status List ---------------------------------------------------------------------

STATUS_LIST = _json(VECTORS / "status_list.json")
_EXAMPLES = [pytest.param(v, id=v["id"]) for v in STATUS_LIST["examples"]]
_LONG = [pytest.param(v, id=v["id"]) for v in STATUS_LIST["test_vectors"]]
# The draft recommends "the highest compression level available" for the DEFLATE/ZLIB
# step; zlib level 9 reproduces every lst of the draft byte for byte.
BEST = 9
#: zlib at level 9, as the specification's examples were made (our default is libdeflate)
ZLIB_BEST = partial(zlib.compress, level=BEST)


@pytest.mark.parametrize("vector", _EXAMPLES)
def test_status_list_example_decodes(vector: dict[str, Any]) -> None:
    decoded = StatusList.decode(vector["lst"], vector["bits"])
    assert bytes(decoded.data) == bytes.fromhex(vector["bytes"])
    assert [decoded.get(i) for i in range(len(decoded))] == vector["statuses"]


@pytest.mark.parametrize("vector", _EXAMPLES)
def test_status_list_example_encodes(vector: dict[str, Any]) -> None:
    built = StatusList.zeros(vector["bits"], len(vector["statuses"]))
    for idx, status in enumerate(vector["statuses"]):
        built.set(idx, status)
    assert bytes(built.data) == bytes.fromhex(vector["bytes"])
    assert (
        StatusList(vector["bits"], bytes.fromhex(vector["bytes"])).encode(ZLIB_BEST)
        == (vector["lst"])
    )
    assert built.encode(ZLIB_BEST) == vector["lst"]


def _expected(vector: dict[str, Any]) -> StatusList:
    # "All values that are not mentioned for the examples below can be assumed to be 0."
    built = StatusList.zeros(vector["bits"], vector["size"])
    for idx, status in vector["statuses"]:
        built.set(idx, status)
    return built


@pytest.mark.parametrize("vector", _LONG)
def test_status_list_test_vector_decodes(vector: dict[str, Any]) -> None:
    decoded = StatusList.decode(vector["lst"], vector["bits"])
    assert len(decoded) == vector["size"]
    for idx, status in vector["statuses"]:
        assert decoded.get(idx) == status, idx
    # ... and every entry the draft does not mention is 0 (VALID).
    assert decoded.data == _expected(vector).data


@pytest.mark.parametrize("vector", _LONG)
def test_status_list_test_vector_encodes(vector: dict[str, Any]) -> None:
    assert _expected(vector).encode(ZLIB_BEST) == vector["lst"]


@pytest.mark.parametrize("vector", _EXAMPLES + _LONG)
def test_the_default_encoding_is_a_zlib_stream_any_inflater_reads(vector: dict[str, Any]) -> None:
    # Our default compressor is libdeflate: other bytes than the vector's, the same format.
    built = (
        _expected(vector)
        if "size" in vector
        else StatusList(vector["bits"], bytes.fromhex(vector["bytes"]))
    )
    lst = built.encode()
    assert zlib.decompress(b64url_decode(lst)) == bytes(built.data)
    assert StatusList.decode(lst, vector["bits"]).data == built.data


# -- RFC 9901 §4.2: Disclosure examples ------------------------------------------------------

EXAMPLES = _json(RFC9901 / "disclosure_examples.json")


def test_rfc9901_object_property_disclosure() -> None:
    # §4.2.1 and §4.2.3: ["_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius"].
    example = EXAMPLES["object_property"]
    disclosure = sdjwt.decode_disclosure(example["disclosure"])
    assert [disclosure.salt, disclosure.name, disclosure.value] == example["contents"]
    assert example["contents"] == ["_26bc4LT-ac6q2KI6cBW5es", "family_name", "Möbius"]
    assert sdjwt.digest(example["disclosure"]) == example["sha256"]
    assert disclosure.digest == "X9yH0Ajrdm1Oij4tWso9UzzKJvPoDxwmuEcO3XAdRC0"


@pytest.mark.parametrize(
    "encoded",
    [
        pytest.param(text, id=name)
        for name, text in EXAMPLES["object_property_variants"]["disclosures"].items()
    ],
)
def test_rfc9901_disclosure_encoding_variants(encoded: str) -> None:
    # §4.2.1: other spellings of the same array are valid Disclosures; the digest is over
    # the encoded text, so each has its own.
    disclosure = sdjwt.decode_disclosure(encoded)
    contents = EXAMPLES["object_property_variants"]["contents"]
    assert [disclosure.salt, disclosure.name, disclosure.value] == contents
    assert sdjwt.digest(encoded) != EXAMPLES["object_property"]["sha256"]


def test_rfc9901_array_element_disclosure() -> None:
    # §4.2.2 and §4.2.4.2: ["lklxF5jMYlGTPUovMNIvCA", "FR"] in ["DE", {"...": …}, "US"].
    example = EXAMPLES["array_element"]
    disclosure = sdjwt.decode_disclosure(example["disclosure"])
    assert [disclosure.salt, disclosure.value] == example["contents"]
    assert disclosure.name is None
    assert sdjwt.digest(example["disclosure"]) == example["sha256"]
    payload = example["payload"]
    assert sdjwt.resolve(payload, [])["nationalities"] == example["processed_without_disclosure"]
    with_it = sdjwt.resolve(payload, [example["disclosure"]])
    assert with_it["nationalities"] == example["processed_with_disclosure"]


# -- RFC 9901 §5: the example SD-JWT --------------------------------------------------------

ISSUER_JWK = _json(RFC9901 / "issuer_jwk.json")  # Appendix A.5
USER_CLAIMS = _json(RFC9901 / "user_claims.json")  # §5.1 input
PAYLOAD = _json(RFC9901 / "sd_jwt_payload.json")  # §5.1
DISCLOSURES = _json(RFC9901 / "disclosures.json")  # §5.1
ISSUED = _unwrap(RFC9901 / "sd_jwt_issuance.txt")  # §5.1
PRESENTED = _unwrap(RFC9901 / "sd_jwt_kb_presentation.txt")  # §5.2
KB_PAYLOAD = _json(RFC9901 / "kb_jwt_payload.json")  # §5.2
PROCESSED_PRESENTATION = _json(RFC9901 / "processed_payload_presentation.json")  # §5.2
#: The ``typ`` of the RFC's Issuer-signed JWT header, {"alg": "ES256", "typ": "example+sd-jwt"}.
EXAMPLE_TYP = "example+sd-jwt"


def _label(entry: dict[str, Any]) -> str:
    return entry["claim"] or f"array-entry-{entry['contents'][1]}"


def _embedded_digests(obj: Any) -> list[str]:
    """Every digest in ``_sd`` arrays and ``{"...": digest}`` elements of the payload."""
    found: list[str] = []
    if isinstance(obj, dict):
        found += obj.get("_sd", [])
        if set(obj) == {"..."}:
            found.append(obj["..."])
        for key, value in obj.items():
            if key != "_sd":
                found += _embedded_digests(value)
    elif isinstance(obj, list):
        for item in obj:
            found += _embedded_digests(item)
    return found


@pytest.mark.parametrize("entry", [pytest.param(e, id=_label(e)) for e in DISCLOSURES])
def test_rfc9901_section5_disclosure(entry: dict[str, Any]) -> None:
    disclosure = sdjwt.decode_disclosure(entry["disclosure"])
    if entry["claim"] is None:
        assert disclosure.name is None
        assert [disclosure.salt, disclosure.value] == entry["contents"]
    else:
        assert [disclosure.salt, disclosure.name, disclosure.value] == entry["contents"]
    assert sdjwt.digest(entry["disclosure"]) == entry["sha256"]
    assert disclosure.digest == entry["sha256"]
    assert entry["sha256"] in _embedded_digests(PAYLOAD)


def _issuer_jwt() -> tuple[Any, list[str]]:
    jwt, disclosures, kb = sdjwt.split(ISSUED)
    assert kb == "", "§5.1 is an SD-JWT, without Key Binding JWT"
    return parse_compact(jwt, typ=EXAMPLE_TYP), disclosures


def test_rfc9901_issued_sd_jwt_parts() -> None:
    jws, disclosures = _issuer_jwt()
    assert jws.header == {"alg": "ES256", "typ": EXAMPLE_TYP}
    assert jws.payload == PAYLOAD
    assert disclosures == [entry["disclosure"] for entry in DISCLOSURES]


def test_rfc9901_issuer_signature_verifies() -> None:
    # Appendix A.5 gives the key without a kid, which VerifyingKey.from_jwk accepts.
    assert "kid" not in ISSUER_JWK
    jws, _ = _issuer_jwt()
    VerifyingKey.from_jwk(ISSUER_JWK).verify(jws.signing_input, jws.signature)


def test_rfc9901_issuer_signature_fails_under_another_key() -> None:
    jws, _ = _issuer_jwt()
    holder = VerifyingKey.from_jwk(PAYLOAD["cnf"]["jwk"])
    with pytest.raises(SignatureInvalid):
        holder.verify(jws.signing_input, jws.signature)
    tampered = jws.signing_input.replace(b".", b".e", 1)
    with pytest.raises(SignatureInvalid):
        VerifyingKey.from_jwk(ISSUER_JWK).verify(tampered, jws.signature)


def test_rfc9901_issued_sd_jwt_resolves_to_the_user_claims() -> None:
    # The RFC prints no processed payload for §5.1; with every Disclosure it is the §5.1
    # input claims plus the claims the Issuer kept visible (iss, iat, exp, cnf).
    jws, disclosures = _issuer_jwt()
    visible = {name: PAYLOAD[name] for name in ("iss", "iat", "exp", "cnf")}
    processed = sdjwt.resolve(jws.payload, disclosures)
    assert processed == {**visible, **USER_CLAIMS}
    assert processed["nationalities"] == ["US", "DE"]  # array-element Disclosures, in order


def _presentation() -> tuple[str, list[str], str]:
    jwt, disclosures, kb = sdjwt.split(PRESENTED)
    assert jwt == sdjwt.split(ISSUED)[0]
    return jwt, disclosures, kb


def test_rfc9901_presentation_processed_payload() -> None:
    jwt, disclosures, _ = _presentation()
    assert len(disclosures) == 4  # given_name, family_name, address, one nationality
    payload = parse_compact(jwt, typ=EXAMPLE_TYP).payload
    assert sdjwt.resolve(payload, disclosures) == PROCESSED_PRESENTATION


def test_rfc9901_presentation_sd_hash() -> None:
    _, _, kb = _presentation()
    kb_jws = parse_compact(kb, typ=sdjwt.TYP_KB_JWT)
    assert kb_jws.header == {"alg": "ES256", "typ": "kb+jwt"}
    assert kb_jws.payload == KB_PAYLOAD
    # §4.3.1: the hash input is the presentation up to and including the last "~".
    without_kb = PRESENTED[: PRESENTED.rindex(sdjwt.SEPARATOR) + 1]
    assert sdjwt.sd_hash(without_kb) == KB_PAYLOAD["sd_hash"]


def test_rfc9901_key_binding_signature() -> None:
    # "The public key used to validate a Key Binding JWT can be found in the examples as
    # the content of the cnf claim" (Appendix A.5).
    _, _, kb = _presentation()
    kb_jws = parse_compact(kb, typ=sdjwt.TYP_KB_JWT)
    holder = VerifyingKey.from_jwk(PAYLOAD["cnf"]["jwk"])
    holder.verify(kb_jws.signing_input, kb_jws.signature)
    with pytest.raises(SignatureInvalid):
        VerifyingKey.from_jwk(ISSUER_JWK).verify(kb_jws.signing_input, kb_jws.signature)


def test_rfc9901_decoy_digests_are_ignored() -> None:
    # §4.2.5: digests without a Disclosure are ignored, in _sd arrays and in arrays.
    payload = copy.deepcopy(PAYLOAD)
    payload["_sd"].append(sdjwt.digest("decoy-1"))
    payload["nationalities"].append({"...": sdjwt.digest("decoy-2")})
    _, disclosures, _ = _presentation()
    assert sdjwt.resolve(payload, disclosures) == PROCESSED_PRESENTATION


# -- RFC 9901 §7.1: what MUST be rejected, on the §5 example ----------------------------------


def _encode(array: list[Any]) -> str:
    # The RFC's own JSON style (", " separators), base64url without padding (§4.2.1).
    return b64url_encode(json.dumps(array, ensure_ascii=False).encode("utf-8"))


GIVEN_NAME = next(e["disclosure"] for e in DISCLOSURES if e["claim"] == "given_name")
MOBIUS = EXAMPLES["object_property"]["disclosure"]


def _with_sd(*disclosures: str) -> dict[str, Any]:
    """The §5.1 payload with the digests of ``disclosures`` added to its top-level _sd."""
    out: dict[str, Any] = copy.deepcopy(PAYLOAD)
    out["_sd"] += [sdjwt.digest(d) for d in disclosures]
    return out


def _repeated(digest: str) -> dict[str, Any]:
    """The §5.1 payload with ``digest`` appearing a second time in its top-level _sd."""
    out: dict[str, Any] = copy.deepcopy(PAYLOAD)
    out["_sd"].append(digest)
    return out


def _reject_cases() -> list[Any]:
    sd_name = _encode(["salt-sd-name-000000000", "_sd", "x"])
    dots_name = _encode(["salt-dot-name-00000000", "...", "x"])
    given_name_digest = sdjwt.digest(GIVEN_NAME)
    nested_again = _encode(["salt-nested-0000000000", "extra", {"_sd": [given_name_digest]}])
    element = _encode(["salt-array-element-000", "FR"])
    four = _encode(["salt-four-elements-000", "given_name", "John", "extra"])
    clash = copy.deepcopy(PAYLOAD)
    clash["given_name"] = "Jane"
    in_array = copy.deepcopy(PAYLOAD)
    in_array["nationalities"].append({"...": sdjwt.digest(GIVEN_NAME)})
    across = copy.deepcopy(PAYLOAD)
    across["nationalities"].append({"...": PAYLOAD["_sd"][0]})
    cases = [
        ("disclosure-presented-twice", PAYLOAD, [GIVEN_NAME, GIVEN_NAME]),
        ("unreferenced-disclosure", PAYLOAD, [GIVEN_NAME, MOBIUS]),
        ("digest-repeated-in-_sd", _repeated(given_name_digest), [GIVEN_NAME]),
        ("digest-repeated-undisclosed", _repeated(PAYLOAD["_sd"][0]), []),
        ("digest-repeated-across-_sd-and-array", across, []),
        ("digest-repeated-via-disclosure", _with_sd(nested_again), [nested_again, GIVEN_NAME]),
        ("claim-name-_sd", _with_sd(sd_name), [sd_name]),
        ("claim-name-...", _with_sd(dots_name), [dots_name]),
        ("object-property-disclosure-in-array", in_array, [GIVEN_NAME]),
        ("array-element-disclosure-in-_sd", _with_sd(element), [element]),
        ("claim-name-already-in-object", clash, [GIVEN_NAME]),
        ("disclosure-of-four-elements", _with_sd(four), [four]),
    ]
    return [pytest.param(payload, ds, id=name) for name, payload, ds in cases]


@pytest.mark.parametrize(("payload", "disclosures"), _reject_cases())
def test_rfc9901_resolve_rejects(payload: dict[str, Any], disclosures: list[str]) -> None:
    with pytest.raises(DisclosureInvalid):
        sdjwt.resolve(payload, disclosures)


@pytest.mark.parametrize("name", ["_sd", "..."])
def test_rfc9901_disclosure_with_reserved_name_is_invalid(name: str) -> None:
    # §4.2.1: the claim name "MUST NOT be _sd, ..., or a claim name existing in the object".
    with pytest.raises(DisclosureInvalid):
        sdjwt.decode_disclosure(_encode(["_26bc4LT-ac6q2KI6cBW5es", name, "Möbius"]))


def test_status_list_with_data_after_the_zlib_stream_is_refused() -> None:
    import zlib

    from keys.b64 import b64url_encode
    from keys.errors import FormatError
    from sdjwt.statuslist import StatusList

    lst = b64url_encode(zlib.compress(bytes.fromhex("b9a3"), 9) + b"\x00garbage")
    with pytest.raises(FormatError):
        StatusList.decode(lst, 1)
