"""The offline verifier (DESIGN.md §3, §4, §7): every scene, every error code, the bundle.

Hostile inputs are forged with the real keys of the test world (the police department's
signing key, the holder's key) or with attacker keys, so that each negative test fails
for exactly the reason its name says.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from issuer.proofs import sign_proof
from issuer.status import DEFAULT_LIFETIME as STATUS_LIST_LIFETIME
from keys import KeyState, SigningKey, sign_compact
from keys.b64 import b64url_encode
from sdjwt import make_disclosure, sd_hash
from tests.factory import ID_CARD, ID_CLAIMS, MARRIAGE, World
from verifier import (
    ERROR_CODES,
    KB_FUTURE_SKEW,
    LEEWAY,
    MAX_PRESENTATION,
    BundleInvalid,
    MemoryNonceCache,
    UnknownScene,
    VerificationResult,
    Verifier,
)
from wallet import HeldCredential, Wallet, present

HOTEL_CLAIMS = ("name", "id_number")
#: The scenes of the shipped defaults that accept the resident ID card.
ID_CARD_SCENES = ("hotel", "hospital", "bank", "pharmacy")
#: DESIGN.md §4: the keys of the result object, exactly.
RESULT_KEYS = {"valid", "vct", "iss", "scene", "status", "claims", "errors", "checked_at"}
#: issuer/data/scenes.json: a hotel accepts a QR code for two minutes.
HOTEL_MAX_AGE = 120

MARRIAGE_CLAIMS: dict[str, Any] = {
    "name": "李四",
    "sex": "女",
    "nationality": "中国",
    "birth_date": "1985-11-30",
    "id_number": "110101198511300026",
    "spouse_name": "王五",
    "spouse_sex": "男",
    "spouse_nationality": "中国",
    "spouse_birth_date": "1984-01-15",
    "spouse_id_number": "110101198401150012",
    "registration_date": "2012-05-20",
    "certificate_number": "J110101-2012-000123",
    "registration_authority": "北京市东城区民政局",
}


# -- forging helpers -------------------------------------------------------------------


def b64json(value: Any) -> str:
    """base64url of compact JSON (or of a JSON text given as a string, kept verbatim)."""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return b64url_encode(text.encode("utf-8"))


def unb64json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def sign_raw(header: Any, payload: Any, key: SigningKey) -> str:
    """A compact JWS over any header and payload (JSON values, or raw JSON texts)."""
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    return f"{signing_input}.{b64url_encode(key.sign(signing_input.encode('ascii')))}"


def with_signature(signing_input: str, signature: bytes) -> str:
    return f"{signing_input}.{b64url_encode(signature)}"


def kb_jwt(
    presented: str,
    holder: SigningKey,
    *,
    iat: float,
    aud: str = "hotel",
    nonce: str | None = None,
    typ: str = "kb+jwt",
    digest_of: str | None = None,
) -> str:
    """A key-binding JWT over ``presented`` (``jwt~d1~…~``)."""
    payload = {
        "iat": iat,
        "aud": aud,
        "nonce": nonce if nonce is not None else b64url_encode(secrets.token_bytes(16)),
        "sd_hash": sd_hash(presented if digest_of is None else digest_of),
    }
    return sign_compact(payload, holder, typ=typ)


def flip_byte(segment: str, index: int = 0) -> str:
    raw = bytearray(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    raw[index] ^= 0x01
    return b64url_encode(bytes(raw))


@dataclass
class Card:
    """One ID card in a citizen's wallet, and the means to forge variations of it."""

    world: World
    held: HeldCredential
    wallet: Wallet

    @property
    def now(self) -> float:
        return self.world.clock.now

    @property
    def jwt(self) -> str:
        """The issuer-signed JWT."""
        return self.held.sd_jwt.split("~", 1)[0]

    @property
    def header(self) -> dict[str, Any]:
        return dict(unb64json(self.jwt.split(".")[0]))

    @property
    def payload(self) -> dict[str, Any]:
        return dict(unb64json(self.jwt.split(".")[1]))

    @property
    def police_key(self) -> SigningKey:
        return self.world.keyring.signing_key(self.world.police.iss)

    @property
    def civil_key(self) -> SigningKey:
        return self.world.keyring.signing_key(self.world.civil.iss)

    def disclosure(self, name: str) -> str:
        """The encoded disclosure of the top-level claim ``name``."""
        return self.held.disclosures[name][0]

    def disclosures(self, names: Iterable[str] = HOTEL_CLAIMS) -> list[str]:
        return [self.disclosure(n) for n in names]

    def reissue(
        self,
        *,
        key: SigningKey | None = None,
        header: Mapping[str, Any] | None = None,
        drop: Iterable[str] = (),
        **changes: Any,
    ) -> str:
        """The credential's JWT with ``changes`` to its payload, signed by ``key`` (police)."""
        key = key or self.police_key
        payload = self.payload | changes
        for name in drop:
            del payload[name]
        if header is None:
            header = {"alg": key.alg, "typ": "dc+sd-jwt", "kid": key.kid}
        return sign_raw(dict(header), payload, key)

    def present(
        self,
        jwt: str | None = None,
        disclosures: Iterable[str] | None = None,
        *,
        holder: SigningKey | None = None,
        iat: float | None = None,
        **kb: Any,
    ) -> str:
        """``jwt~disclosures~kb-jwt`` with a KB-JWT over exactly that text."""
        disclosures = self.disclosures() if disclosures is None else list(disclosures)
        presented = "~".join([jwt or self.jwt, *disclosures]) + "~"
        holder = holder or self.wallet.holder_key
        return presented + kb_jwt(presented, holder, iat=self.now if iat is None else iat, **kb)

    def for_scene(self, scene: str = "hotel") -> str:
        """What the citizen's wallet shows for ``scene``."""
        return self.wallet.present_for_scene(
            self.held, self.world.verifier().trust_list.scenes[scene]
        )

    def verify(self, text: str | bytes, scene: str = "hotel") -> VerificationResult:
        """Verify with a fresh verifier over a fresh bundle."""
        return self.world.verifier().verify(text, scene)


def make_card(world: World) -> Card:
    held, wallet = world.issue_id_card()
    return Card(world, held, wallet)


def rejected_with(result: VerificationResult, code: str) -> bool:
    """Invalid, reporting ``code``, and showing staff no personal data."""
    return (
        code in result.codes
        and result.valid is False
        and result.claims == {}
        and result.to_dict()["claims"] == {}
    )


@pytest.fixture
def card(world: World) -> Card:
    return make_card(world)


# -- the happy paths -------------------------------------------------------------------


@pytest.mark.parametrize("scene", ID_CARD_SCENES)
def test_id_card_is_accepted_with_exactly_the_scene_claims(card: Card, scene: str) -> None:
    wanted = card.world.verifier().trust_list.scenes[scene].accept[ID_CARD]

    result = card.verify(card.for_scene(scene), scene)

    assert (result.valid, result.errors, result.claims) == (
        True,
        [],
        {c: ID_CLAIMS[c] for c in wanted},
    )


@pytest.mark.parametrize("scene", ID_CARD_SCENES)
def test_result_dict_has_exactly_the_design_keys(card: Card, scene: str) -> None:
    result = card.verify(card.for_scene(scene), scene).to_dict()

    assert set(result) == RESULT_KEYS


@pytest.mark.parametrize("scene", ID_CARD_SCENES)
def test_result_dict_is_json(card: Card, scene: str) -> None:
    result = card.verify(card.for_scene(scene), scene)

    assert json.loads(json.dumps(result.to_dict())) == {
        "valid": True,
        "vct": ID_CARD,
        "iss": card.world.police.iss,
        "scene": scene,
        "status": "valid",
        "claims": result.claims,
        "errors": [],
        "checked_at": int(card.now),
    }


def test_over_disclosure_shows_staff_only_the_scene_claims(card: Card) -> None:
    everything = card.present(disclosures=card.disclosures(card.held.disclosures))

    assert card.verify(everything).claims == {c: ID_CLAIMS[c] for c in HOTEL_CLAIMS}


def test_bytes_input_is_accepted(card: Card) -> None:
    assert card.verify(card.for_scene().encode("ascii")).valid


@pytest.mark.parametrize("ending", ["\n", "\r\n", "\r\n\r\n"], ids=["LF", "CRLF", "CRLF-CRLF"])
def test_scanner_gun_line_endings_are_tolerated(card: Card, ending: str) -> None:
    result = card.verify(card.for_scene() + ending)

    assert (result.valid, result.errors) == (True, [])


# -- a negative test for every error code ----------------------------------------------

Forgery = Callable[[Card], "str | bytes"]


def _dup_member_header(c: Card) -> str:
    k = c.police_key
    header = f'{{"alg":"ES256","typ":"dc+sd-jwt","kid":"{k.kid}","kid":"{k.kid}"}}'
    return c.present(sign_raw(header, c.payload, k))


def _dup_member_payload(c: Card) -> str:
    body = json.dumps(c.payload, ensure_ascii=False, separators=(",", ":"))
    duplicated = body[:-1] + f',"vct":{json.dumps(ID_CARD)}}}'
    return c.present(sign_raw(c.header, duplicated, c.police_key))


def _non_ascii_text(c: Card) -> str:
    text = c.for_scene()
    return text[:40] + "é" + text[41:]


def _non_ascii_bytes(c: Card) -> bytes:
    return c.for_scene().encode("ascii") + b"\xff"


def _full_width_tilde(c: Card) -> str:
    return c.for_scene().replace("~", "～")


def _oversize(c: Card) -> str:
    return c.present(disclosures=[*c.disclosures(), "A" * MAX_PRESENTATION])


MALFORMED: dict[str, Forgery] = {
    "garbage": lambda c: "hello, hotel!",
    "empty": lambda c: "",
    "two-segment-jwt": lambda c: "eyJhbGciOiJFUzI1NiJ9.e30~",
    "jwt-without-tilde": lambda c: c.jwt,
    "kb-jwt-with-two-segments": lambda c: c.for_scene().rsplit(".", 1)[0],
    "empty-disclosure": lambda c: c.for_scene().replace("~", "~~", 1),
    "non-ascii-text": _non_ascii_text,
    "non-ascii-bytes": _non_ascii_bytes,
    "full-width-tilde": _full_width_tilde,
    "oversize": _oversize,
    "duplicate-member-in-header": _dup_member_header,
    "duplicate-member-in-payload": _dup_member_payload,
    "exp-as-string": lambda c: c.present(c.reissue(exp=str(c.payload["exp"]))),
    "nbf-as-string": lambda c: c.present(c.reissue(nbf=str(int(c.now)))),
    "header-not-json": lambda c: c.present("AAAA" + c.jwt[c.jwt.index(".") :]),
    "impossible-base64-length": lambda c: c.present("A" + c.jwt),
    "typ-jwt": lambda c: c.present(c.reissue(header={**c.header, "typ": "JWT"})),
    "typ-missing": lambda c: c.present(c.reissue(header={"alg": "ES256", "kid": c.header["kid"]})),
    "kid-not-a-string": lambda c: c.present(c.reissue(header={**c.header, "kid": 7})),
    "iss-missing": lambda c: c.present(c.reissue(drop=["iss"])),
    "cnf-missing": lambda c: c.present(c.reissue(drop=["cnf"])),
    "trailing-space": lambda c: c.for_scene() + " ",
    "trailing-tab": lambda c: c.for_scene() + "\t",
    "trailing-nul": lambda c: c.for_scene() + "\x00",
    "trailing-cr-lf-space": lambda c: c.for_scene() + "\r\n ",
    "leading-space": lambda c: " " + c.for_scene(),
    "inner-newline": lambda c: c.for_scene().replace("~", "\n~", 1),
    # The compact grammar needs three non-empty segments: an unsecured JWS is not a JWT here.
    "alg-none-empty-signature": lambda c: c.present(
        f"{b64json({**c.header, 'alg': 'none'})}.{b64json(c.payload)}."
    ),
}


@pytest.mark.parametrize("forge", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed(card: Card, forge: Forgery) -> None:
    assert rejected_with(card.verify(forge(card)), "malformed")


def _hs256_with_public_key(c: Card) -> str:
    pem = c.police_key.key.public_key().public_bytes(
        Encoding.PEM, PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64json({**c.header, 'alg': 'HS256'})}.{b64json(c.payload)}"
    mac = hmac.new(pem, signing_input.encode("ascii"), hashlib.sha256).digest()
    return c.present(with_signature(signing_input, mac))


def _rs256(c: Card) -> str:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    signing_input = f"{b64json({**c.header, 'alg': 'RS256'})}.{b64json(c.payload)}"
    signature = rsa_key.sign(signing_input.encode("ascii"), padding.PKCS1v15(), SHA256())
    return c.present(with_signature(signing_input, signature))


def _eddsa_header_on_es256_key(c: Card) -> str:
    attacker = SigningKey.generate("EdDSA")
    return c.present(c.reissue(key=attacker, header={**c.header, "alg": "EdDSA"}))


def _alg_none_with_signature(c: Card) -> str:
    signing_input = f"{b64json({**c.header, 'alg': 'none'})}.{b64json(c.payload)}"
    return c.present(with_signature(signing_input, b"\x00" * 64))


UNSUPPORTED_ALG: dict[str, Forgery] = {
    "alg-none-with-a-signature": _alg_none_with_signature,
    "hs256-with-issuer-public-key-as-secret": _hs256_with_public_key,
    "rs256": _rs256,
    "eddsa-header-on-es256-key": _eddsa_header_on_es256_key,
    "lower-case-es256": lambda c: c.present(c.reissue(header={**c.header, "alg": "es256"})),
    "alg-missing": lambda c: c.present(
        c.reissue(header={"typ": "dc+sd-jwt", "kid": c.police_key.kid})
    ),
}


@pytest.mark.parametrize("forge", UNSUPPORTED_ALG.values(), ids=UNSUPPORTED_ALG.keys())
def test_unsupported_alg(card: Card, forge: Forgery) -> None:
    assert rejected_with(card.verify(forge(card)), "unsupported_alg")


def _flipped_signature_byte(c: Card) -> str:
    h64, p64, s64 = c.jwt.split(".")
    return c.present(f"{h64}.{p64}.{flip_byte(s64, 17)}")


def _payload_tampered_after_signing(c: Card) -> str:
    h64, _, s64 = c.jwt.split(".")
    tampered = c.payload | {"exp": c.payload["exp"] + 10 * 365 * 86400}
    return c.present(f"{h64}.{b64json(tampered)}.{s64}")


def _attacker_key_under_police_kid(c: Card) -> str:
    return c.present(c.reissue(key=SigningKey.generate(), header=c.header))


def _short_signature(c: Card) -> str:
    h64, p64, s64 = c.jwt.split(".")
    return c.present(with_signature(f"{h64}.{p64}", base64.urlsafe_b64decode(s64 + "==")[:63]))


INVALID_SIGNATURE: dict[str, Forgery] = {
    "one-flipped-signature-byte": _flipped_signature_byte,
    "payload-tampered-after-signing": _payload_tampered_after_signing,
    "attacker-key-under-the-police-kid": _attacker_key_under_police_kid,
    "63-byte-signature": _short_signature,
}


@pytest.mark.parametrize("forge", INVALID_SIGNATURE.values(), ids=INVALID_SIGNATURE.keys())
def test_invalid_signature(card: Card, forge: Forgery) -> None:
    assert rejected_with(card.verify(forge(card)), "invalid_signature")


UNKNOWN_ISSUER: dict[str, Forgery] = {
    "look-alike-url": lambda c: c.present(
        c.reissue(key=SigningKey.generate(), iss="https://ecert.example.evil/issuers/police")
    ),
    "trailing-slash": lambda c: c.present(c.reissue(iss=c.world.police.iss + "/")),
    "the-trust-anchor-itself": lambda c: c.present(
        c.reissue(key=c.world.anchor, iss=c.world.platform.anchor_id)
    ),
}


@pytest.mark.parametrize("forge", UNKNOWN_ISSUER.values(), ids=UNKNOWN_ISSUER.keys())
def test_unknown_issuer(card: Card, forge: Forgery) -> None:
    assert rejected_with(card.verify(forge(card)), "unknown_issuer")


ISSUER_NOT_AUTHORISED: dict[str, Forgery] = {
    "civil-affairs-signs-an-id-card": lambda c: c.present(
        c.reissue(key=c.civil_key, iss=c.world.civil.iss)
    ),
    "police-signs-a-marriage-certificate": lambda c: c.present(c.reissue(vct=MARRIAGE)),
}


@pytest.mark.parametrize("forge", ISSUER_NOT_AUTHORISED.values(), ids=ISSUER_NOT_AUTHORISED.keys())
def test_issuer_not_authorised(card: Card, forge: Forgery) -> None:
    assert rejected_with(card.verify(forge(card)), "issuer_not_authorised")


def _no_kid(c: Card) -> str:
    return c.present(c.reissue(header={"alg": "ES256", "typ": "dc+sd-jwt"}))


UNKNOWN_KEY: dict[str, Forgery] = {
    "kid-not-in-jwks": lambda c: c.present(c.reissue(key=SigningKey.generate())),
    "no-kid": _no_kid,
    "kid-of-another-issuer": lambda c: c.present(c.reissue(key=c.civil_key)),
    "kid-of-the-trust-anchor": lambda c: c.present(c.reissue(key=c.world.anchor)),
}


@pytest.mark.parametrize("forge", UNKNOWN_KEY.values(), ids=UNKNOWN_KEY.keys())
def test_unknown_key(card: Card, forge: Forgery) -> None:
    assert rejected_with(card.verify(forge(card)), "unknown_key")


@pytest.mark.parametrize("param", ["jwk", "jku", "x5u", "x5c"])
@pytest.mark.parametrize("kid", ["attacker", "police"])
def test_unknown_key_header_cannot_supply_the_key(card: Card, param: str, kid: str) -> None:
    attacker = SigningKey.generate()
    pointer: Any = {
        "jwk": dict(attacker.public_jwk()),
        "jku": "https://attacker.example/jwks.json",
        "x5u": "https://attacker.example/cert.pem",
        "x5c": ["MIIBszCCAVmgAwIBAgIUattacker"],
    }[param]
    header = {
        "alg": "ES256",
        "typ": "dc+sd-jwt",
        "kid": attacker.kid if kid == "attacker" else card.police_key.kid,
        param: pointer,
    }

    result = card.verify(card.present(card.reissue(key=attacker, header=header)))

    assert not result.valid and set(result.codes) <= {"malformed", "unknown_key"}


def test_key_compromised(card: Card) -> None:
    old_kid = card.police_key.kid
    card.world.keyring.create(card.world.police.iss)  # the replacement, so lists can be signed
    card.world.keyring.set_state(old_kid, KeyState.COMPROMISED)

    assert rejected_with(card.verify(card.for_scene()), "key_compromised")


def test_expired(card: Card) -> None:
    forged = card.present(card.reissue(exp=card.now - LEEWAY - 1))

    assert rejected_with(card.verify(forged), "expired")


def test_expired_within_leeway_is_still_valid(card: Card) -> None:
    assert card.verify(card.present(card.reissue(exp=card.now - LEEWAY))).valid


def test_expired_after_the_validity_period(card: Card) -> None:
    v = card.world.verifier()
    card.world.clock.advance(card.payload["exp"] - card.now + LEEWAY + 1)

    assert rejected_with(v.verify(card.for_scene(), "hotel"), "expired")


def test_not_yet_valid(card: Card) -> None:
    forged = card.present(card.reissue(nbf=card.now + LEEWAY + 1))

    assert rejected_with(card.verify(forged), "not_yet_valid")


def test_not_yet_valid_within_leeway_is_still_valid(card: Card) -> None:
    assert card.verify(card.present(card.reissue(nbf=card.now + LEEWAY))).valid


def test_revoked(card: Card) -> None:
    card.world.issuer.revoke(card.world.police.iss, card.world.last_id)

    assert rejected_with(card.verify(card.for_scene()), "revoked")


def test_revoked_status_is_reported(card: Card) -> None:
    card.world.issuer.revoke(card.world.police.iss, card.world.last_id)

    assert card.verify(card.for_scene()).status == "revoked"


def test_suspended(card: Card) -> None:
    card.world.issuer.suspend(card.world.police.iss, card.world.last_id)

    assert rejected_with(card.verify(card.for_scene()), "suspended")


def test_suspended_then_reinstated_is_valid_again(card: Card) -> None:
    card.world.issuer.suspend(card.world.police.iss, card.world.last_id)
    card.world.issuer.reinstate(card.world.police.iss, card.world.last_id)

    assert card.verify(card.for_scene()).valid


def _status_list_of_another_issuer_key(c: Card) -> dict[str, Any]:
    bundle = c.world.bundle()
    [token] = bundle["status_lists"]
    payload = unb64json(token.split(".")[1])
    bundle["status_lists"] = [
        sign_compact(payload, c.civil_key, typ="statuslist+jwt")  # iss still says police
    ]
    return bundle


def _status_list_missing(c: Card) -> dict[str, Any]:
    return c.world.bundle() | {"status_lists": []}


STATUS_UNAVAILABLE_BUNDLES: dict[str, Callable[[Card], dict[str, Any]]] = {
    "list-missing-from-bundle": _status_list_missing,
    "list-signed-by-another-issuers-key": _status_list_of_another_issuer_key,
}


@pytest.mark.parametrize(
    "make_bundle", STATUS_UNAVAILABLE_BUNDLES.values(), ids=STATUS_UNAVAILABLE_BUNDLES.keys()
)
def test_status_unavailable(card: Card, make_bundle: Callable[[Card], dict[str, Any]]) -> None:
    v = Verifier(make_bundle(card), anchor=card.world.anchor_jwk, clock=card.world.clock)

    assert rejected_with(v.verify(card.for_scene(), "hotel"), "status_unavailable")


def _status_ref(c: Card, **changes: Any) -> str:
    ref = c.payload["status"]["status_list"] | changes
    return c.present(c.reissue(status={"status_list": ref}))


STATUS_UNAVAILABLE_REFERENCES: dict[str, Forgery] = {
    "index-out-of-range": lambda c: _status_ref(c, idx=4096),
    "negative-index": lambda c: _status_ref(c, idx=-1),
    "index-as-string": lambda c: _status_ref(c, idx="7"),
    "index-as-boolean": lambda c: _status_ref(c, idx=True),
    "uri-of-another-issuers-list": lambda c: _status_ref(c, uri=c.world.civil.iss + "/status/1"),
    "no-status-claim": lambda c: c.present(c.reissue(drop=["status"])),
}


@pytest.mark.parametrize(
    "forge", STATUS_UNAVAILABLE_REFERENCES.values(), ids=STATUS_UNAVAILABLE_REFERENCES.keys()
)
def test_status_unavailable_reference(card: Card, forge: Forgery) -> None:
    assert rejected_with(card.verify(forge(card)), "status_unavailable")


def test_status_stale(card: Card) -> None:
    v = card.world.verifier()
    card.world.clock.advance(STATUS_LIST_LIFETIME + 1)

    assert rejected_with(v.verify(card.for_scene(), "hotel"), "status_stale")


def test_key_binding_missing(card: Card) -> None:
    without_kb = "~".join([card.jwt, *card.disclosures()]) + "~"

    assert rejected_with(card.verify(without_kb), "key_binding_missing")


def _kb_dup_member(c: Card) -> str:
    presented = "~".join([c.jwt, *c.disclosures()]) + "~"
    body = (
        f'{{"iat":{int(c.now)},"aud":"hotel","aud":"hotel","nonce":"n1",'
        f'"sd_hash":"{sd_hash(presented)}"}}'
    )
    header = {"alg": "ES256", "typ": "kb+jwt"}
    return presented + sign_raw(header, body, c.wallet.holder_key)


def _kb_alg_none(c: Card) -> str:
    presented = "~".join([c.jwt, *c.disclosures()]) + "~"
    body = {"iat": c.now, "aud": "hotel", "nonce": "n1", "sd_hash": sd_hash(presented)}
    return presented + with_signature(
        f"{b64json({'alg': 'none', 'typ': 'kb+jwt'})}.{b64json(body)}", b"\x00" * 64
    )


def _kb_without(member: str) -> Forgery:
    def forge(c: Card) -> str:
        presented = "~".join([c.jwt, *c.disclosures()]) + "~"
        body = {"iat": c.now, "aud": "hotel", "nonce": "n1", "sd_hash": sd_hash(presented)}
        del body[member]
        return presented + sign_compact(body, c.wallet.holder_key, typ="kb+jwt")

    return forge


KEY_BINDING_INVALID: dict[str, Forgery] = {
    "signed-by-another-key": lambda c: c.present(holder=SigningKey.generate()),
    "signed-by-another-eddsa-key": lambda c: c.present(holder=SigningKey.generate("EdDSA")),
    "typ-jwt": lambda c: c.present(typ="JWT"),
    "typ-of-a-credential": lambda c: c.present(typ="dc+sd-jwt"),
    "wrong-sd-hash": lambda c: c.present(digest_of=c.jwt + "~"),
    "aud-of-another-scene": lambda c: c.present(aud="bank"),
    "iat-in-the-future-beyond-skew": lambda c: c.present(iat=c.now + KB_FUTURE_SKEW + 1),
    "empty-nonce": lambda c: c.present(nonce=""),
    "no-nonce": _kb_without("nonce"),
    "no-iat": _kb_without("iat"),
    "no-aud": _kb_without("aud"),
    "no-sd-hash": _kb_without("sd_hash"),
    "duplicate-member": _kb_dup_member,
    "alg-none": _kb_alg_none,
}


@pytest.mark.parametrize("forge", KEY_BINDING_INVALID.values(), ids=KEY_BINDING_INVALID.keys())
def test_key_binding_invalid(card: Card, forge: Forgery) -> None:
    assert rejected_with(card.verify(forge(card)), "key_binding_invalid")


def test_kb_iat_in_the_future_within_skew_is_valid(card: Card) -> None:
    assert card.verify(card.present(iat=card.now + KB_FUTURE_SKEW)).valid


def test_presentation_expired(card: Card) -> None:
    v = card.world.verifier()
    shown = card.for_scene()
    card.world.clock.advance(HOTEL_MAX_AGE + 1)

    assert rejected_with(v.verify(shown, "hotel"), "presentation_expired")


def test_presentation_at_exactly_max_age_is_valid(card: Card) -> None:
    v = card.world.verifier()
    shown = card.for_scene()
    card.world.clock.advance(HOTEL_MAX_AGE)

    assert v.verify(shown, "hotel").valid


def test_replayed(card: Card) -> None:
    v = card.world.verifier()
    shown = card.for_scene()
    v.verify(shown, "hotel")

    assert rejected_with(v.verify(shown, "hotel"), "replayed")


def test_replayed_first_use_is_valid(card: Card) -> None:
    v = card.world.verifier()

    assert v.verify(card.for_scene(), "hotel").valid


def test_replayed_nonce_in_a_fresh_kb_jwt(card: Card) -> None:
    v = card.world.verifier()
    v.verify(card.present(nonce="same-nonce"), "hotel")

    assert rejected_with(v.verify(card.present(nonce="same-nonce"), "hotel"), "replayed")


def test_failed_verification_does_not_burn_the_nonce(card: Card) -> None:
    v = card.world.verifier()
    shown = card.for_scene("hotel")
    assert not v.verify(shown, "pharmacy").valid  # aud is "hotel"

    assert v.verify(shown, "hotel").valid


def test_failed_status_check_does_not_burn_the_nonce(card: Card) -> None:
    nonces = MemoryNonceCache()
    no_lists = Verifier(
        _status_list_missing(card),
        anchor=card.world.anchor_jwk,
        clock=card.world.clock,
        replay=nonces,
    )
    full = card.world.verifier(replay=nonces)
    shown = card.for_scene()
    assert not no_lists.verify(shown, "hotel").valid

    assert full.verify(shown, "hotel").valid


def test_replay_cache_is_shared_between_verifiers_given_one(card: Card) -> None:
    nonces = MemoryNonceCache()
    shown = card.for_scene()
    card.world.verifier(replay=nonces).verify(shown, "hotel")

    assert rejected_with(card.world.verifier(replay=nonces).verify(shown, "hotel"), "replayed")


def test_replayed_at_the_last_fresh_instant(card: Card) -> None:
    # regression: the nonce was forgotten at exactly iat + max_age for a KB-JWT dated ahead
    v = card.world.verifier()
    shown = card.present(iat=card.now + KB_FUTURE_SKEW)
    v.verify(shown, "hotel")
    card.world.clock.advance(HOTEL_MAX_AGE + KB_FUTURE_SKEW)  # now - iat == max_age: fresh

    assert rejected_with(v.verify(shown, "hotel"), "replayed")


def test_same_credential_shown_twice_with_fresh_nonces_is_valid_twice(card: Card) -> None:
    v = card.world.verifier()
    v.verify(card.for_scene(), "hotel")

    assert v.verify(card.for_scene(), "hotel").valid


def test_a_bad_signature_is_not_remembered_as_good(card: Card) -> None:
    v = card.world.verifier()
    forged = _flipped_signature_byte(card)
    v.verify(forged, "hotel")

    assert rejected_with(v.verify(forged, "hotel"), "invalid_signature")


def test_a_credential_verified_before_is_still_checked_against_the_clock(card: Card) -> None:
    v = card.world.verifier()
    v.verify(card.for_scene(), "hotel")
    card.world.clock.advance(card.payload["exp"] - card.now + LEEWAY + 1)

    assert rejected_with(v.verify(card.for_scene(), "hotel"), "expired")


def _unreferenced_disclosure(c: Card) -> str:
    return c.present(disclosures=[*c.disclosures(), make_disclosure("name", "张三").encoded])


def _tampered_disclosure(c: Card) -> str:
    salt, name, _ = unb64json(c.disclosure("name"))
    forged = b64json([salt, name, "张三"])
    return c.present(disclosures=[forged, c.disclosure("id_number")])


DISCLOSURE_INVALID: dict[str, Forgery] = {
    "not-referenced-in-sd": _unreferenced_disclosure,
    "the-same-disclosure-twice": lambda c: c.present(
        disclosures=[*c.disclosures(), c.disclosure("name")]
    ),
    "tampered-value": _tampered_disclosure,
    "not-base64-json": lambda c: c.present(disclosures=[*c.disclosures(), "AAAA"]),
}


@pytest.mark.parametrize("forge", DISCLOSURE_INVALID.values(), ids=DISCLOSURE_INVALID.keys())
def test_disclosure_invalid(card: Card, forge: Forgery) -> None:
    assert rejected_with(card.verify(forge(card)), "disclosure_invalid")


def _marriage_certificate_at_the_hotel(c: Card) -> str:
    issued = c.world.issuer.issue(
        c.world.civil.iss,
        MARRIAGE,
        subject="citizen-1",
        claims=MARRIAGE_CLAIMS,
        holder_jwk=c.wallet.holder_jwk,
    )
    held = c.wallet.add(issued.sd_jwt)
    return present(held, HOTEL_CLAIMS, holder_key=c.wallet.holder_key, aud="hotel", now=c.now)


def _id_number_withheld(c: Card) -> str:
    return present(c.held, ["name"], holder_key=c.wallet.holder_key, aud="hotel", now=c.now)


SCENE_UNMET: dict[str, Forgery] = {
    "marriage-certificate-at-the-hotel": _marriage_certificate_at_the_hotel,
    "id-number-withheld": _id_number_withheld,
}


@pytest.mark.parametrize("forge", SCENE_UNMET.values(), ids=SCENE_UNMET.keys())
def test_scene_unmet(card: Card, forge: Forgery) -> None:
    assert rejected_with(card.verify(forge(card)), "scene_unmet")


def test_scene_unmet_is_the_only_problem_when_a_claim_is_withheld(card: Card) -> None:
    assert card.verify(_id_number_withheld(card)).codes == ["scene_unmet"]


def test_trust_list_stale(card: Card) -> None:
    world = card.world
    bundle = world.bundle() | {"trust_list": world.platform.trust_list(lifetime=60)}
    v = Verifier(bundle, anchor=world.anchor_jwk, clock=world.clock)
    world.clock.advance(61)

    assert rejected_with(v.verify(card.for_scene(), "hotel"), "trust_list_stale")


def test_online_check_required(card: Card) -> None:
    # SIM card registration needs today's status: a bundle's verifier refuses it unread
    offline = card.world.verifier()
    assert offline.trust_list.scenes["sim_card"].online
    text = card.for_scene("sim_card")
    assert rejected_with(offline.verify(text, "sim_card"), "online_check_required")
    assert offline.verify(text, "sim_card").codes == ["online_check_required"]
    assert offline.verify(card.for_scene("hotel"), "hotel").valid  # not an online scene


def test_wrong_audience(world: World) -> None:
    # a proof (proof+jwt, issue 11) made for civil affairs, shown to another department
    token = sign_proof(
        world.keyring.signing_key(world.police.iss),
        iss=world.police.iss,
        aud=world.civil.iss,
        sub="citizen-1",
        proof_type="no-criminal-record",
        claims={"found": False},
        purpose="a purpose",
        iat=int(world.clock()),
        valid_for=600,
    )
    v = world.verifier()
    assert v.verify_proof(token, audience=world.civil.iss).valid
    assert v.verify_proof(token, audience=world.police.iss).codes == ["wrong_audience"]


def test_every_error_code_has_a_negative_test() -> None:
    # the set presentation's codes are tested in tests/test_sets.py, the guardians' and
    # carers' in tests/test_links_verifier.py
    from tests import test_links_verifier, test_sets

    named = set(globals()) | {
        n
        for module in (test_sets, test_links_verifier)
        for n in vars(module)
        if n.startswith("test_")
    }
    assert {code for code in ERROR_CODES if f"test_{code}" not in named} == set()


# -- misuse raises ---------------------------------------------------------------------


def test_unknown_scene_raises(card: Card) -> None:
    with pytest.raises(UnknownScene):
        card.world.verifier().verify(card.for_scene(), "casino")


def test_bundle_signed_by_another_anchor_is_refused(world: World) -> None:
    other = SigningKey.generate()

    with pytest.raises(BundleInvalid):
        Verifier(world.bundle(), anchor=dict(other.public_jwk()))


def test_bundle_with_tampered_trust_list_is_refused(world: World) -> None:
    bundle = world.bundle()
    h64, p64, s64 = bundle["trust_list"].split(".")
    payload = unb64json(p64)
    payload["issuers"][0]["vcts"].append(MARRIAGE)
    bundle["trust_list"] = f"{h64}.{b64json(payload)}.{s64}"

    with pytest.raises(BundleInvalid):
        Verifier(bundle, anchor=world.anchor_jwk)


def test_bundle_without_trust_list_is_refused(world: World) -> None:
    with pytest.raises(BundleInvalid):
        Verifier({"status_lists": []}, anchor=world.anchor_jwk)


def _tampered_status_list_bundle(world: World) -> dict[str, Any]:
    bundle = world.bundle()
    [token] = bundle["status_lists"]
    h64, p64, s64 = token.split(".")
    payload = unb64json(p64)
    payload["exp"] += 365 * 86400
    bundle["status_lists"] = [f"{h64}.{b64json(payload)}.{s64}"]
    return bundle


def test_tampered_status_list_is_named_in_problems(card: Card) -> None:
    v = Verifier(_tampered_status_list_bundle(card.world), anchor=card.world.anchor_jwk)

    assert len(v.bundle.problems) == 1


def test_tampered_status_list_leaves_its_credentials_unavailable(card: Card) -> None:
    world = card.world
    v = Verifier(_tampered_status_list_bundle(world), anchor=world.anchor_jwk, clock=world.clock)

    assert rejected_with(v.verify(card.for_scene(), "hotel"), "status_unavailable")


# -- construction ----------------------------------------------------------------------


def test_from_bundle_file(card: Card, tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(card.world.bundle()), encoding="utf-8")
    v = Verifier.from_bundle_file(path, anchor=card.world.anchor_jwk, clock=card.world.clock)

    assert v.verify(card.for_scene(), "hotel").valid


def test_from_bundle_file_that_is_not_json_is_refused(world: World, tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text("{not json", encoding="utf-8")

    with pytest.raises(BundleInvalid):
        Verifier.from_bundle_file(path, anchor=world.anchor_jwk)


def test_clock_is_honoured_for_checked_at(card: Card) -> None:
    v = Verifier(card.world.bundle(), anchor=card.world.anchor_jwk, clock=lambda: card.now + 5.7)

    assert v.verify(card.for_scene(), "hotel").checked_at == int(card.now + 5.7)


def test_clock_is_honoured_for_expiry(card: Card) -> None:
    far_future = card.payload["exp"] + LEEWAY + 1
    v = Verifier(card.world.bundle(), anchor=card.world.anchor_jwk, clock=lambda: far_future)

    assert "expired" in v.verify(card.for_scene(), "hotel").codes


def test_clock_is_honoured_by_from_bundle_file(card: Card, tmp_path: Path) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(card.world.bundle()), encoding="utf-8")
    v = Verifier.from_bundle_file(path, anchor=card.world.anchor_jwk, clock=lambda: 42.0)

    assert v.verify(card.for_scene(), "hotel").checked_at == 42


# -- algorithms and key rotation -------------------------------------------------------


def test_eddsa_issuer_is_accepted(world: World) -> None:
    east = world.platform.register_issuer(
        "police-east", name_zh="东城分局", name_en="East Police", vcts=[ID_CARD], alg="EdDSA"
    )
    wallet = world.wallet()
    issued = world.issuer.issue(
        east.iss, ID_CARD, subject="c-2", claims=ID_CLAIMS, holder_jwk=wallet.holder_jwk
    )
    held = wallet.add(issued.sd_jwt)
    v = world.verifier()

    result = v.verify(wallet.present_for_scene(held, v.trust_list.scenes["hotel"]), "hotel")

    assert (result.valid, unb64json(held.sd_jwt.split(".")[0])["alg"]) == (True, "EdDSA")


def test_eddsa_holder_key_is_accepted(world: World) -> None:
    wallet = Wallet(SigningKey.generate("EdDSA"), clock=world.clock)
    held, _ = world.issue_id_card(wallet)
    v = world.verifier()

    assert v.verify(wallet.present_for_scene(held, v.trust_list.scenes["hotel"]), "hotel").valid


def test_credential_of_a_retired_key_still_verifies(card: Card) -> None:
    old_kid = card.police_key.kid
    card.world.keyring.create(card.world.police.iss)  # rotation: the old key retires

    assert (card.world.keyring.signing_key(card.world.police.iss).kid != old_kid) and card.verify(
        card.for_scene()
    ).valid


def test_pending_key_is_published_before_it_signs(world: World) -> None:
    pending = world.keyring.create(world.police.iss, state=KeyState.PENDING)

    assert pending.kid in world.verifier().trust_list.issuers[world.police.iss].keys


def test_offline_verifier_accepts_a_credential_of_a_key_it_learnt_while_pending(
    card: Card,
) -> None:
    world = card.world  # its status list already exists: the card fixture issued into it
    pending = world.keyring.create(world.police.iss, state=KeyState.PENDING)
    v = world.verifier()  # synced before the key signs anything
    world.keyring.set_state(pending.kid, KeyState.ACTIVE)
    held, wallet = world.issue_id_card()

    result = v.verify(wallet.present_for_scene(held, v.trust_list.scenes["hotel"]), "hotel")

    assert (result.valid, unb64json(held.sd_jwt.split(".")[0])["kid"]) == (True, pending.kid)


# -- findings --------------------------------------------------------------------------


def _with_extra_disclosure(c: Card, name: str, value: Any, **changes: Any) -> str:
    """A presentation whose credential's ``_sd`` also references ``[salt, name, value]``."""
    encoded = b64json([b64url_encode(secrets.token_bytes(16)), name, value])
    digest = b64url_encode(hashlib.sha256(encoded.encode("ascii")).digest())
    jwt = c.reissue(_sd=sorted([*c.payload["_sd"], digest]), **changes)
    return c.present(jwt, [*c.disclosures(), encoded])


def test_disclosure_named_sd_alg_is_rejected(card: Card) -> None:
    shown = _with_extra_disclosure(card, "_sd_alg", "sha-256")

    assert rejected_with(card.verify(shown), "disclosure_invalid")


def test_disclosure_named_sd_alg_is_rejected_on_the_general_path(card: Card) -> None:
    # a quote in a plain claim puts a backslash in the payload JSON: no fast path
    shown = _with_extra_disclosure(card, "_sd_alg", "sha-256", remark='say "hi"')

    assert rejected_with(card.verify(shown), "disclosure_invalid")


@pytest.mark.parametrize("name", ["nbf", "status", "cnf", "iss", "vct", "exp"])
@pytest.mark.parametrize("remark", [None, 'say "hi"'], ids=["fast-path", "general-path"])
def test_claims_never_disclosable_are_rejected_as_disclosures(
    card: Card, name: str, remark: str | None
) -> None:
    """SD-JWT VC §3.2.2.2: a hidden 'nbf' or 'status' would escape the checks."""
    value: Any = 4_000_000_000 if name == "nbf" else "x"
    if remark is None:
        shown = _with_extra_disclosure(card, name, value)
    else:
        shown = _with_extra_disclosure(card, name, value, remark=remark)

    assert rejected_with(card.verify(shown), "disclosure_invalid")
