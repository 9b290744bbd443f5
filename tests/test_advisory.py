"""Regression tests named after known JWT / SD-JWT weaknesses (pyjwt ``tests/test_advisory.py``).

Each test forges the attack against the offline verifier and checks that it fails,
with the stable error code of DESIGN.md §4 where the attack has one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import socket
import urllib.request
import zlib
from typing import Any

import pytest
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from issuer import encode_status_list_token
from keys import SigningKey, sign_compact
from keys.b64 import b64url_encode
from sdjwt import FormatError, StatusList, sd_hash
from sdjwt.statuslist import MAX_DECOMPRESSED
from tests.factory import ID_CLAIMS, World
from tests.test_verifier import (
    Card,
    b64json,
    make_card,
    rejected_with,
    sign_raw,
    unb64json,
    with_signature,
)
from verifier import BundleInvalid, Verifier

#: The order of the P-256 group (SEC 2 §2.4.2).
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@pytest.fixture
def card(world: World) -> Card:
    return make_card(world)


def _presented(c: Card, jwt: str | None = None) -> str:
    return "~".join([jwt or c.jwt, *c.disclosures()]) + "~"


def _kb_body(c: Card, presented: str) -> dict[str, Any]:
    return {"iat": c.now, "aud": "hotel", "nonce": "n-1", "sd_hash": sd_hash(presented)}


def _public_key_secrets(key: SigningKey) -> dict[str, bytes]:
    public = key.key.public_key()
    return {
        "pem": public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo),
        "der": public.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo),
        "jwk-json": json.dumps(dict(key.public_jwk())).encode("utf-8"),
    }


# -- algorithm ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "signature", "code"),
    [
        ("credential", b"", "malformed"),  # three non-empty segments, or not a JWT
        ("credential", b"\x00" * 64, "unsupported_alg"),
        ("kb-jwt", b"\x00" * 64, "key_binding_invalid"),
    ],
    ids=["credential-empty-signature", "credential-with-signature", "kb-jwt"],
)
def test_alg_none_rejected(card: Card, where: str, signature: bytes, code: str) -> None:
    """CVE-2015-9235 (jsonwebtoken) and kin: an ``alg: none`` token must never verify."""
    if where == "credential":
        signing_input = f"{b64json({**card.header, 'alg': 'none'})}.{b64json(card.payload)}"
        text = card.present(f"{signing_input}.{b64url_encode(signature)}")
    else:
        presented = _presented(card)
        header = b64json({"alg": "none", "typ": "kb+jwt"})
        text = presented + with_signature(
            f"{header}.{b64json(_kb_body(card, presented))}", signature
        )

    assert rejected_with(card.verify(text), code)


@pytest.mark.parametrize("secret", ["pem", "der", "jwk-json"])
def test_hs256_with_public_key_confusion(card: Card, secret: str) -> None:
    """CVE-2022-29217 / GHSA-ffqj-6fqr-9h24 (PyJWT): the issuer's public key as an HMAC secret."""
    key_bytes = _public_key_secrets(card.police_key)[secret]
    signing_input = f"{b64json({**card.header, 'alg': 'HS256'})}.{b64json(card.payload)}"
    mac = hmac.new(key_bytes, signing_input.encode("ascii"), hashlib.sha256).digest()

    assert rejected_with(
        card.verify(card.present(with_signature(signing_input, mac))), "unsupported_alg"
    )


@pytest.mark.parametrize("secret", ["pem", "der", "jwk-json"])
def test_hs256_with_public_key_confusion_in_kb_jwt(card: Card, secret: str) -> None:
    """CVE-2022-29217 (PyJWT), on the KB-JWT: the holder's public key (cnf) as an HMAC secret."""
    key_bytes = _public_key_secrets(card.wallet.holder_key)[secret]
    presented = _presented(card)
    signing_input = (
        f"{b64json({'alg': 'HS256', 'typ': 'kb+jwt'})}.{b64json(_kb_body(card, presented))}"
    )
    mac = hmac.new(key_bytes, signing_input.encode("ascii"), hashlib.sha256).digest()

    assert rejected_with(
        card.verify(presented + with_signature(signing_input, mac)), "key_binding_invalid"
    )


@pytest.mark.parametrize(
    "signature",
    [bytes(64), P256_ORDER.to_bytes(32, "big") * 2],
    ids=["r=s=0", "r=s=n"],
)
def test_psychic_signatures_rejected(card: Card, signature: bytes) -> None:
    """CVE-2022-21449 (Java "psychic signatures"): ECDSA with r or s out of [1, n-1]."""
    h64, p64, _ = card.jwt.split(".")

    assert rejected_with(
        card.verify(card.present(with_signature(f"{h64}.{p64}", signature))),
        "invalid_signature",
    )


# -- where the key comes from --------------------------------------------------------------


@pytest.mark.parametrize("kid", ["attacker", "police"])
def test_jwk_header_embedded_key_ignored(card: Card, kid: str) -> None:
    """CVE-2018-0114 (node-jose): a key embedded in the ``jwk`` header must not be trusted."""
    attacker = SigningKey.generate()
    header = {
        "alg": "ES256",
        "typ": "dc+sd-jwt",
        "kid": attacker.kid if kid == "attacker" else card.police_key.kid,
        "jwk": dict(attacker.public_jwk()),
    }

    result = card.verify(card.present(card.reissue(key=attacker, header=header)))

    assert not result.valid and set(result.codes) <= {"malformed", "unknown_key"}


def test_jwk_header_embedded_key_ignored_in_kb_jwt(card: Card) -> None:
    """CVE-2018-0114 (node-jose), on the KB-JWT: only the ``cnf`` key may sign it."""
    attacker = SigningKey.generate()
    presented = _presented(card)
    header = {"alg": "ES256", "typ": "kb+jwt", "jwk": dict(attacker.public_jwk())}

    assert rejected_with(
        card.verify(presented + sign_raw(header, _kb_body(card, presented), attacker)),
        "key_binding_invalid",
    )


@pytest.mark.parametrize("param", ["jku", "x5u"])
def test_jku_x5u_headers_not_followed(
    card: Card, param: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """RFC 8725 §3.10 / STYLE.md §9.3: a token never chooses a URL to fetch keys from."""
    fetched: list[object] = []
    monkeypatch.setattr(socket.socket, "connect", lambda *a: fetched.append(a))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: fetched.append(a))
    attacker = SigningKey.generate()
    header = {
        "alg": "ES256",
        "typ": "dc+sd-jwt",
        "kid": attacker.kid,
        param: "http://127.0.0.1:9/keys.json",
    }

    result = card.verify(card.present(card.reissue(key=attacker, header=header)))

    assert (result.valid, fetched) == (False, [])


@pytest.mark.parametrize(
    "kid",
    [
        "../../../../etc/passwd",
        "/dev/null",
        "..\\..\\keys\\anchor.json",
        "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "' OR '1'='1",
        "anchor",
        "",
        "\u0000",
    ],
    ids=["dotdot", "dev-null", "backslashes", "url-encoded", "sql", "owner-name", "empty", "nul"],
)
def test_kid_path_traversal_is_just_unknown_key(card: Card, kid: str) -> None:
    """CVE-2018-1000531-style ``kid`` injection: a kid is only ever a lookup in the trust list."""
    attacker = SigningKey.generate()
    forged = card.reissue(key=attacker, header={"alg": "ES256", "typ": "dc+sd-jwt", "kid": kid})

    assert rejected_with(card.verify(card.present(forged)), "unknown_key")


# -- parsing ---------------------------------------------------------------------------------


def _dup_disclosure(c: Card) -> str:
    salt = b64url_encode(secrets.token_bytes(16))
    encoded = b64json(f'["{salt}","address",{{"city":"北京","city":"上海"}}]')
    digest = b64url_encode(hashlib.sha256(encoded.encode("ascii")).digest())
    jwt = c.reissue(_sd=sorted([*c.payload["_sd"], digest]))
    return c.present(jwt, [*c.disclosures(), encoded])


def _dup_in_kb(part: str) -> Any:
    def forge(c: Card) -> str:
        presented = _presented(c)
        header = '{"alg":"ES256","typ":"kb+jwt","typ":"kb+jwt"}'
        body = json.dumps(_kb_body(c, presented))
        if part == "payload":
            header, body = '{"alg":"ES256","typ":"kb+jwt"}', body[:-1] + ',"aud":"hotel"}'
        return presented + sign_raw(header, body, c.wallet.holder_key)

    return forge


def _dup_in_credential(part: str) -> Any:
    def forge(c: Card) -> str:
        header = json.dumps(c.header)
        body = json.dumps(c.payload, ensure_ascii=False)
        if part == "header":
            header = header[:-1] + ', "alg": "ES256"}'
        else:
            body = body[:-1] + f', "iss": {json.dumps(c.world.police.iss)}}}'
        return c.present(sign_raw(header, body, c.police_key))

    return forge


DUPLICATES = {
    "credential-header": (_dup_in_credential("header"), "malformed"),
    "credential-payload": (_dup_in_credential("payload"), "malformed"),
    "kb-jwt-header": (_dup_in_kb("header"), "key_binding_invalid"),
    "kb-jwt-payload": (_dup_in_kb("payload"), "key_binding_invalid"),
    "disclosure-value": (_dup_disclosure, "disclosure_invalid"),
}


@pytest.mark.parametrize(("forge", "code"), DUPLICATES.values(), ids=DUPLICATES.keys())
def test_duplicate_member_names_rejected(card: Card, forge: Any, code: str) -> None:
    """RFC 7515 §5.2 / RFC 8259 §4: duplicate member names are rejected, not last-one-wins."""
    assert rejected_with(card.verify(forge(card)), code)


def test_duplicate_member_names_in_trust_list_rejected(world: World) -> None:
    """RFC 7515 §5.2: a trust list with a duplicate member is refused even if signed."""
    bundle = world.bundle()
    body = json.dumps(unb64json(bundle["trust_list"].split(".")[1]), ensure_ascii=False)
    duplicated = body[:-1] + ', "exp": 4102444800}'
    bundle["trust_list"] = sign_raw(
        {"alg": "ES256", "typ": "trustlist+jwt", "kid": world.anchor.kid}, duplicated, world.anchor
    )

    with pytest.raises(BundleInvalid, match="duplicate"):
        Verifier(bundle, anchor=world.anchor_jwk)


@pytest.mark.parametrize("where", ["credential", "kb-jwt"])
def test_crit_header_rejected(card: Card, where: str) -> None:
    """RFC 7515 §4.1.11: a ``crit`` extension we do not understand makes the JWS invalid."""
    crit = {"crit": ["ecert-ext"], "ecert-ext": True}
    if where == "credential":
        text, code = card.present(card.reissue(header={**card.header, **crit})), "malformed"
    else:
        presented = _presented(card)
        header = {"alg": "ES256", "typ": "kb+jwt", **crit}
        text = presented + sign_raw(header, _kb_body(card, presented), card.wallet.holder_key)
        code = "key_binding_invalid"

    assert rejected_with(card.verify(text), code)


@pytest.mark.parametrize("sd_alg", ["sha-512", "SHA-256", "sha256", "none", ""])
def test_sd_alg_other_than_sha256_rejected(card: Card, sd_alg: str) -> None:
    """RFC 9901 §4.1.1 / §7.1: an ``_sd_alg`` the verifier does not support is rejected."""
    assert rejected_with(
        card.verify(card.present(card.reissue(_sd_alg=sd_alg))), "disclosure_invalid"
    )


@pytest.mark.parametrize(
    "token",
    ["trust_list", "status_list", "kb_jwt"],
)
def test_explicit_typing_prevents_token_confusion(card: Card, token: str) -> None:
    """RFC 8725 §3.11: a trust list, status list or KB-JWT is not accepted as a credential."""
    bundle = card.world.bundle()
    other = {
        "trust_list": bundle["trust_list"],
        "status_list": bundle["status_lists"][0],
        "kb_jwt": card.for_scene().rsplit("~", 1)[1],
    }[token]

    assert rejected_with(card.verify(card.present(other)), "malformed")


# -- SD-JWT specifics ------------------------------------------------------------------------


def test_disclosure_reuse_across_credentials_fails(card: Card) -> None:
    """RFC 9901 §9.3 / §7.1: a disclosure counts only if *this* credential's ``_sd`` names it."""
    other, _ = card.world.issue_id_card(card.wallet, claims={**dict(ID_CLAIMS), "name": "王五"})
    stolen = other.disclosures["name"][0]

    assert rejected_with(
        card.verify(card.present(disclosures=[*card.disclosures(), stolen])),
        "disclosure_invalid",
    )


def test_disclosure_swapped_in_from_another_credential_fails(card: Card) -> None:
    """RFC 9901 §7.1: replacing a disclosure by another credential's is not a valid claim."""
    other, _ = card.world.issue_id_card(card.wallet, claims={**dict(ID_CLAIMS), "name": "王五"})
    shown = [other.disclosures["name"][0], card.disclosure("id_number")]

    assert rejected_with(card.verify(card.present(disclosures=shown)), "disclosure_invalid")


@pytest.mark.parametrize("holder", ["same-holder", "another-holder"])
def test_kb_jwt_from_other_presentation(card: Card, holder: str) -> None:
    """RFC 9901 §7.3 (sd_hash): a KB-JWT transplanted from another presentation is refused."""
    wallet = card.wallet if holder == "same-holder" else None
    other, other_wallet = card.world.issue_id_card(wallet)
    other_card = Card(card.world, other, other_wallet)
    transplanted = other_card.for_scene().rsplit("~", 1)[1]

    assert rejected_with(card.verify(_presented(card) + transplanted), "key_binding_invalid")


def test_kb_jwt_for_a_smaller_disclosure_set_is_refused(card: Card) -> None:
    """RFC 9901 §7.3: adding a disclosure after the KB-JWT was signed breaks ``sd_hash``."""
    shown = card.present(disclosures=card.disclosures(["name"]))
    presented, kb = shown.rsplit("~", 1)
    widened = f"{presented}~{card.disclosure('id_number')}~{kb}"

    assert rejected_with(card.verify(widened), "key_binding_invalid")


def test_ecdsa_malleated_kb_signature_is_still_a_replay(card: Card) -> None:
    """ECDSA malleability (s -> n - s, cf. BIP 62): a re-encoded KB-JWT does not reset replay."""
    v = card.world.verifier()
    shown = card.for_scene()
    head, s64 = shown.rsplit(".", 1)
    signature = base64.urlsafe_b64decode(s64 + "==")
    s = int.from_bytes(signature[32:], "big")
    malleated = f"{head}.{b64url_encode(signature[:32] + (P256_ORDER - s).to_bytes(32, 'big'))}"
    assert v.verify(shown, "hotel").valid

    assert rejected_with(v.verify(malleated, "hotel"), "replayed")


def test_non_canonical_base64url_signature_rejected(card: Card) -> None:
    """RFC 4648 §3.5 / RFC 7515 §2: only the canonical base64url of the signature is accepted."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    shown = card.for_scene()
    last = alphabet.index(shown[-1])  # 64-byte signature: its last character has 4 pad bits
    non_canonical = shown[:-1] + alphabet[last ^ 0b0001]

    assert not card.verify(non_canonical).valid


# -- status lists --------------------------------------------------------------------------


def _police_list(c: Card) -> tuple[str, dict[str, Any]]:
    bundle = c.world.bundle()
    [token] = bundle["status_lists"]
    return token, unb64json(token.split(".")[1])


def test_status_list_from_other_issuer_not_trusted(card: Card) -> None:
    """Token Status List §8.3 / DESIGN.md §3: a list is signed by the credential's issuer."""
    _, payload = _police_list(card)
    forged = sign_compact(payload, card.civil_key, typ="statuslist+jwt")  # iss: police
    world = card.world
    v = Verifier(
        world.bundle() | {"status_lists": [forged]}, anchor=world.anchor_jwk, clock=world.clock
    )

    assert rejected_with(v.verify(card.for_scene(), "hotel"), "status_unavailable")


def test_status_list_of_other_issuer_for_our_uri_not_trusted(card: Card) -> None:
    """DESIGN.md §3: a list published by another issuer at this credential's uri is not its list."""
    _, payload = _police_list(card)
    world = card.world
    forged = encode_status_list_token(
        StatusList.decode(payload["status_list"]["lst"], payload["status_list"]["bits"]),
        uri=payload["sub"],
        iss=world.civil.iss,
        key=card.civil_key,
        now=int(card.now),
    )
    v = Verifier(
        world.bundle() | {"status_lists": [forged]}, anchor=world.anchor_jwk, clock=world.clock
    )

    assert rejected_with(v.verify(card.for_scene(), "hotel"), "status_unavailable")


def test_status_list_of_other_issuer_does_not_displace_the_genuine_one(card: Card) -> None:
    """DESIGN.md §3: only the credential's issuer can speak for its status list."""
    genuine, payload = _police_list(card)
    world = card.world
    squatter = encode_status_list_token(
        StatusList.zeros(2, 16),
        uri=payload["sub"],
        iss=world.civil.iss,
        key=card.civil_key,
        now=int(card.now) + 60,  # newer than the genuine list
    )
    v = Verifier(
        world.bundle() | {"status_lists": [genuine, squatter]},
        anchor=world.anchor_jwk,
        clock=world.clock,
    )

    assert v.verify(card.for_scene(), "hotel").valid


def _bomb(size: int) -> str:
    """``lst`` of ``size`` zero bytes, compressed without holding them in memory."""
    packer = zlib.compressobj(9)
    chunk = bytes(1 << 20)
    parts = [packer.compress(chunk) for _ in range(size >> 20)]
    parts.append(packer.compress(bytes(size & ((1 << 20) - 1))))
    parts.append(packer.flush())
    return b64url_encode(b"".join(parts))


def test_zlib_bomb_status_list_refused() -> None:
    """CWE-409 (decompression bomb): an ``lst`` inflating beyond the bound is refused."""
    with pytest.raises(FormatError):
        StatusList.decode(_bomb(64 * 1024 + 1), 2, max_bytes=64 * 1024)


def test_zlib_bomb_status_list_within_the_bound_decodes() -> None:
    """CWE-409: the bound is a bound, not an off-by-one refusal of a list of exactly that size."""
    assert len(StatusList.decode(_bomb(64 * 1024), 2, max_bytes=64 * 1024)) == 4 * 64 * 1024


def test_zlib_bomb_status_list_refused_by_the_bundle_loader(card: Card) -> None:
    """CWE-409: a signed list that inflates beyond MAX_DECOMPRESSED is a bundle problem."""
    world = card.world
    _, payload = _police_list(card)
    payload["status_list"]["lst"] = _bomb(MAX_DECOMPRESSED + 1)
    bomb = sign_compact(payload, card.police_key, typ="statuslist+jwt")
    v = Verifier(world.bundle() | {"status_lists": [bomb]}, anchor=world.anchor_jwk)

    assert len(v.bundle.problems) == 1
