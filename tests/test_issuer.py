"""issuer: SD-JWT VC issuance (DESIGN.md §3), status changes, key rotation, the registry.

Every test that touches storage runs on SQLite and on a real Redis (``store``).
"""

from __future__ import annotations

import datetime
import hashlib
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from issuer import (
    ClaimsInvalid,
    CredentialIssuer,
    InvalidTransition,
    IssuedCredential,
    IssuerError,
    Keyring,
    NoSigningKey,
    NotAuthorised,
    UnknownCredential,
    UnknownCredentialType,
    UnknownIssuer,
    default_scenes,
    load_catalogue,
)
from issuer.catalogue import CatalogueError
from keys import (
    KeyState,
    KeyStateError,
    KeyUnwrapFailed,
    KeyWrapper,
    SigningKey,
    VerifyingKey,
    generate_secret,
    verify_trust_list,
)
from keys.b64 import b64url_decode, b64url_encode
from keys.jwk import Alg
from sdjwt import decode_disclosure
from store.interface import CredentialRecord, Store
from store.redis import RedisStore
from store.sqlite import SQLiteStore
from tests.factory import (
    BASE_URL,
    ID_CARD,
    ID_CLAIMS,
    NOW,
    RESIDENCE_PERMIT,
    Clock,
    World,
)

PAYLOAD_MEMBERS = {"iss", "iat", "exp", "vct", "_sd_alg", "_sd", "cnf", "status"}


@pytest.fixture
def w(store: Store) -> World:
    """A world on each storage backend."""
    return World(store)


def stored(w: World, credential_id: str) -> CredentialRecord:
    """The registry's record of a credential, which must exist."""
    record = w.store.get_credential(credential_id)
    assert record is not None, f"credential {credential_id} is not in the registry"
    return record


def issue(w: World, **kwargs: Any) -> IssuedCredential:
    holder = kwargs.pop("holder_jwk", None) or w.wallet().holder_jwk
    return w.issuer.issue(
        kwargs.pop("iss", w.police.iss),
        kwargs.pop("vct", ID_CARD),
        subject=kwargs.pop("subject", "citizen-1"),
        claims=kwargs.pop("claims", ID_CLAIMS),
        holder_jwk=holder,
        **kwargs,
    )


def decode_jwt(sd_jwt: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    """Header, payload and the payload's raw UTF-8 text of the issuer-signed JWT."""
    h64, p64, _ = sd_jwt.split("~", 1)[0].split(".")
    text = b64url_decode(p64).decode("utf-8")
    return json.loads(b64url_decode(h64)), json.loads(text), text


def disclosures_of(sd_jwt: str) -> list[str]:
    parts = sd_jwt.split("~")
    assert parts[-1] == "", "an issued SD-JWT ends with '~' and has no KB-JWT"
    return parts[1:-1]


def sha256_b64(text: str) -> str:
    return b64url_encode(hashlib.sha256(text.encode("ascii")).digest())


# -- the issued SD-JWT VC ----------------------------------------------------------------


def test_header_is_alg_typ_kid(w: World) -> None:
    header, _, _ = decode_jwt(issue(w).sd_jwt)
    assert header == {
        "alg": "ES256",
        "typ": "dc+sd-jwt",
        "kid": w.keyring.signing_key(w.police.iss).kid,
    }


def test_header_alg_follows_an_eddsa_issuer(w: World) -> None:
    dept = w.platform.register_issuer(
        "exit-entry", name_zh="出入境管理局", name_en="Exit-Entry", vcts=[ID_CARD], alg="EdDSA"
    )
    header, _, _ = decode_jwt(issue(w, iss=dept.iss).sd_jwt)
    assert header == {
        "alg": "EdDSA",
        "typ": "dc+sd-jwt",
        "kid": w.keyring.signing_key(dept.iss).kid,
    }


def test_payload_has_exactly_the_members_of_design_3(w: World) -> None:
    wallet = w.wallet()
    issued = issue(w, holder_jwk=wallet.holder_jwk)
    _, payload, _ = decode_jwt(issued.sd_jwt)
    assert set(payload) == PAYLOAD_MEMBERS  # every resident-ID claim is selectively disclosable
    assert payload["iss"] == w.police.iss == f"{BASE_URL}/issuers/police"
    assert payload["vct"] == ID_CARD
    assert payload["_sd_alg"] == "sha-256"
    assert payload["iat"] == NOW
    assert payload["status"] == {
        "status_list": {"idx": issued.record.status_idx, "uri": issued.record.status_uri}
    }
    assert issued.record.status_uri == f"{w.police.iss}/status/1"
    assert 0 <= payload["status"]["status_list"]["idx"] < 4096


def test_sd_digests_are_sorted(w: World) -> None:
    _, payload, _ = decode_jwt(issue(w, decoys=4).sd_jwt)
    assert payload["_sd"] == sorted(payload["_sd"])
    assert len(set(payload["_sd"])) == len(payload["_sd"])


def test_cnf_holds_the_public_holder_key_only(w: World) -> None:
    wallet = w.wallet()
    _, payload, _ = decode_jwt(issue(w, holder_jwk=wallet.holder_jwk).sd_jwt)
    cnf_jwk = payload["cnf"]["jwk"]
    assert set(payload["cnf"]) == {"jwk"}
    assert "d" not in cnf_jwk
    assert set(cnf_jwk) <= {"kty", "crv", "x", "y", "kid", "alg", "use"}
    assert VerifyingKey.from_jwk(cnf_jwk).kid == wallet.holder_key.kid


def test_holder_jwk_is_reduced_to_its_public_members(w: World) -> None:
    holder = {**w.wallet().holder_jwk, "use": "sig", "x-note": "not copied"}
    _, payload, _ = decode_jwt(issue(w, holder_jwk=holder).sd_jwt)
    assert set(payload["cnf"]["jwk"]) == {"kty", "crv", "x", "y"}


def test_every_sd_claim_is_a_disclosure_and_never_in_clear(w: World) -> None:
    issued = issue(w)
    _, payload, text = decode_jwt(issued.sd_jwt)
    sd_claims = set(load_catalogue().get(ID_CARD).sd_claims)
    disclosed = {}
    for encoded in disclosures_of(issued.sd_jwt):
        d = decode_disclosure(encoded)
        assert sha256_b64(encoded) in payload["_sd"]
        disclosed[d.name] = d.value
    assert disclosed == {k: v for k, v in ID_CLAIMS.items() if k in sd_claims}
    assert set(ID_CLAIMS) <= sd_claims
    for name, value in ID_CLAIMS.items():
        assert name not in payload
        assert f'"{name}"' not in text
        assert value not in text
        assert json.dumps(value) not in text  # nor \\u-escaped


def test_salts_are_16_random_bytes_and_all_differ(w: World) -> None:
    salts = []
    for _ in range(3):
        for encoded in disclosures_of(issue(w).sd_jwt):
            salt = decode_disclosure(encoded).salt
            assert len(salt) == 22
            assert len(b64url_decode(salt)) == 16
            salts.append(salt)
    assert len(salts) == 3 * len(ID_CLAIMS)
    assert len(set(salts)) == len(salts)


def test_two_issuances_of_the_same_claims_share_no_digest(w: World) -> None:
    _, first, _ = decode_jwt(issue(w).sd_jwt)
    _, second, _ = decode_jwt(issue(w).sd_jwt)
    assert not set(first["_sd"]) & set(second["_sd"])


def test_exp_is_iat_plus_the_types_validity(w: World) -> None:
    w.clock.now = NOW + 12345
    long_term = {k: v for k, v in ID_CLAIMS.items() if k != "valid_until"}  # 长期
    _, payload, _ = decode_jwt(issue(w, claims=long_term).sd_jwt)
    days = load_catalogue().get(ID_CARD).validity_days
    assert payload["iat"] == NOW + 12345
    assert payload["exp"] == payload["iat"] + days * 86400


def _end_of_day_beijing(day: str) -> int:
    midnight = datetime.datetime.fromisoformat(f"{day}T00:00:00+08:00")
    return int((midnight + datetime.timedelta(days=1)).timestamp())


@pytest.mark.parametrize(
    "valid_until", ["2028-01-15", "2027-01-15"], ids=["within-validity", "same-day-as-iat"]
)
def test_exp_never_outlives_the_documents_valid_until(w: World, valid_until: str) -> None:
    # NOW is 2027-01-15 08:00 UTC; the document's last day ends at 24:00 Beijing time
    _, payload, _ = decode_jwt(issue(w, claims={**ID_CLAIMS, "valid_until": valid_until}).sd_jwt)
    assert payload["exp"] == _end_of_day_beijing(valid_until)


def test_a_valid_until_beyond_the_types_validity_does_not_extend_exp(w: World) -> None:
    _, payload, _ = decode_jwt(issue(w, claims={**ID_CLAIMS, "valid_until": "2099-12-31"}).sd_jwt)
    days = load_catalogue().get(ID_CARD).validity_days
    assert payload["exp"] == payload["iat"] + days * 86400


@pytest.mark.parametrize("decoys", [1, 5])
def test_decoys_add_digests_that_match_no_disclosure(w: World, decoys: int) -> None:
    issued = issue(w, decoys=decoys)
    _, payload, _ = decode_jwt(issued.sd_jwt)
    real = {sha256_b64(d) for d in disclosures_of(issued.sd_jwt)}
    extra = set(payload["_sd"]) - real
    assert len(payload["_sd"]) == len(real) + decoys
    assert len(extra) == decoys
    assert all(len(b64url_decode(d)) == 32 for d in extra)


def test_decoys_can_be_a_default_of_the_issuer(w: World) -> None:
    issuer = CredentialIssuer(w.store, w.keyring, w.status, clock=w.clock, decoys=3)
    issued = issuer.issue(
        w.police.iss, ID_CARD, subject="s", claims=ID_CLAIMS, holder_jwk=w.wallet().holder_jwk
    )
    _, payload, _ = decode_jwt(issued.sd_jwt)
    assert len(payload["_sd"]) == len(disclosures_of(issued.sd_jwt)) + 3
    _, plain, _ = decode_jwt(issue(w).sd_jwt)
    assert len(plain["_sd"]) == len(ID_CLAIMS)  # off by default


def test_optional_claims_left_out_are_not_disclosed(w: World) -> None:
    claims = {k: v for k, v in ID_CLAIMS.items() if k != "valid_until"}
    names = {decode_disclosure(d).name for d in disclosures_of(issue(w, claims=claims).sd_jwt)}
    assert "valid_until" not in names and "photo_digest" not in names


def test_the_signature_verifies_with_the_published_key(w: World) -> None:
    issued = issue(w)
    header, _, _ = decode_jwt(issued.sd_jwt)
    trust = verify_trust_list(w.platform.trust_list(), w.anchor_jwk)
    key = trust.issuers[w.police.iss].keys[header["kid"]]
    h64, p64, s64 = issued.sd_jwt.split("~", 1)[0].split(".")
    key.verify(f"{h64}.{p64}".encode(), b64url_decode(s64))


def test_the_credential_verifies_end_to_end(w: World) -> None:
    held, wallet = w.issue_id_card()
    verifier = w.verifier()
    result = verifier.verify(
        wallet.present_for_scene(held, verifier.trust_list.scenes["hotel"]), "hotel"
    )
    assert result.valid, result.errors
    assert result.claims == {"name": ID_CLAIMS["name"], "id_number": ID_CLAIMS["id_number"]}


@pytest.mark.parametrize("alg", ["ES256", "EdDSA"])
def test_pyjwt_accepts_our_issuer_jwt(store: Store, alg: Alg) -> None:
    """Interop: PyJWT's own decode (exp and iat checked against the real clock)."""
    w = World(store, clock=Clock(time.time()))
    dept = w.platform.register_issuer(
        "transport", name_zh="交通局", name_en="Transport", vcts=[ID_CARD], alg=alg
    )
    issued = issue(w, iss=dept.iss)
    public = dict(w.keyring.signing_key(dept.iss).public_jwk())
    key = jwt.PyJWK(public).key
    token = issued.sd_jwt.split("~", 1)[0]
    claims = jwt.decode(token, key, algorithms=[alg])
    assert claims["iss"] == dept.iss and claims["vct"] == ID_CARD
    assert jwt.get_unverified_header(token)["typ"] == "dc+sd-jwt"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, jwt.PyJWK(dict(SigningKey.generate(alg).public_jwk())).key, [alg])


def test_credential_ids_are_unguessable_and_distinct(w: World) -> None:
    ids = {issue(w).id for _ in range(5)}
    assert len(ids) == 5
    assert all(len(b64url_decode(i)) == 16 for i in ids)


# -- the registry record -------------------------------------------------------------------


def test_registry_record_describes_the_credential(w: World) -> None:
    issued = issue(w, subject="citizen-42")
    header, payload, _ = decode_jwt(issued.sd_jwt)
    record = w.store.get_credential(issued.id)
    assert record == issued.record
    assert record.vct == ID_CARD and record.issuer == w.police.iss
    assert record.subject == "citizen-42"
    assert record.kid == header["kid"]
    assert (record.status_uri, record.status_idx) == (
        payload["status"]["status_list"]["uri"],
        payload["status"]["status_list"]["idx"],
    )
    assert (record.issued_at, record.expires_at) == (payload["iat"], payload["exp"])
    assert record.state == "valid"
    assert w.store.list_credentials(subject="citizen-42") == [record]


def _everything_stored(store: Store) -> bytes:
    """Every byte the backend holds."""
    if isinstance(store, SQLiteStore):
        db = Path(store.path)
        return b"".join(p.read_bytes() for p in sorted(db.parent.glob(db.name + "*")))
    assert isinstance(store, RedisStore)
    client = store.client
    out: list[Any] = []
    for key in client.scan_iter(match="*"):
        out += [key, client.dump(key) or b""]
        kind = client.type(key)
        kind = kind.decode() if isinstance(kind, bytes) else kind
        if kind == "string":
            out.append(client.get(key) or b"")
        elif kind == "hash":
            for field, value in client.hgetall(key).items():
                out += [field, value]
        elif kind == "set":
            out += list(client.smembers(key))
        elif kind == "zset":
            out += list(client.zrange(key, 0, -1))
        elif kind == "list":
            out += list(client.lrange(key, 0, -1))
        else:
            pytest.fail(f"unexpected Redis type {kind} for {key!r}")
    return b"\x00".join(x if isinstance(x, bytes) else str(x).encode() for x in out)


def test_the_store_holds_no_claim_value(w: World) -> None:
    issued = issue(w, subject="citizen-1")
    w.issuer.suspend(w.police.iss, issued.id)
    raw = _everything_stored(w.store)
    assert b"citizen-1" in raw  # the search does see the stored records
    assert issued.id.encode() in raw
    for name, value in ID_CLAIMS.items():
        encoded = value.encode("utf-8")
        # single characters (性别 "女", 民族 "汉") are 3 bytes: too short to search for in
        # encrypted key blobs and status bitmaps without chance matches
        if len(encoded) >= 6:
            assert encoded not in raw, f"{name} is stored in clear"
            assert json.dumps(value).encode() not in raw, f"{name} is stored escaped"
    for encoded in disclosures_of(issued.sd_jwt):
        assert encoded.encode() not in raw
    assert issued.sd_jwt.split(".")[1].encode() not in raw  # nor the signed payload


# -- refusals ---------------------------------------------------------------------------------


def test_unknown_issuer_is_refused(w: World) -> None:
    with pytest.raises(UnknownIssuer):
        issue(w, iss=f"{BASE_URL}/issuers/nobody")


def test_a_type_the_issuer_may_not_issue_is_refused(w: World) -> None:
    with pytest.raises(NotAuthorised):
        issue(w, iss=w.civil.iss, vct=ID_CARD)


def test_a_type_outside_the_catalogue_is_refused(w: World) -> None:
    with pytest.raises((NotAuthorised, UnknownCredentialType)):
        issue(w, vct="urn:ecert:unicorn-licence")


@pytest.mark.parametrize(
    ("field", "claims"),
    [
        ("name", {k: v for k, v in ID_CLAIMS.items() if k != "name"}),
        ("nickname", {**ID_CLAIMS, "nickname": "小李"}),
        ("birth_date", {**ID_CLAIMS, "birth_date": "30/11/1985"}),
        ("birth_date", {**ID_CLAIMS, "birth_date": "1985-02-30"}),
        ("id_number", {**ID_CLAIMS, "id_number": 110101198511300026}),
        ("address", {**ID_CLAIMS, "address": None}),
        ("name", {**ID_CLAIMS, "name": "李四\u202e"}),
        ("name", {**ID_CLAIMS, "name": "李" * 65}),
    ],
    ids=[
        "missing-required",
        "unknown-claim",
        "date-format",
        "impossible-date",
        "number-for-string",
        "null",
        "bidi-control",
        "too-long",
    ],
)
def test_bad_claims_are_refused_naming_the_field_not_the_value(
    w: World, field: str, claims: dict[str, Any]
) -> None:
    with pytest.raises(ClaimsInvalid) as info:
        issue(w, claims=claims)
    assert info.value.field == field
    value = claims.get(field)
    if isinstance(value, str) and field != "nickname":
        assert value not in str(info.value)


@pytest.mark.parametrize(
    "holder",
    [
        pytest.param(lambda w: {**w.wallet().holder_jwk, "d": "AAAA"}, id="private-d"),
        pytest.param(lambda w: {**w.wallet().holder_jwk, "crv": "P-384"}, id="wrong-curve"),
        pytest.param(lambda w: {"kty": "RSA", "n": "AQAB", "e": "AQAB"}, id="RSA"),
        pytest.param(lambda w: {**w.wallet().holder_jwk, "y": "AAAA"}, id="bad-y"),
        pytest.param(lambda w: {"kty": "oct", "k": "c2VjcmV0"}, id="symmetric"),
    ],
)
def test_a_holder_key_that_is_not_a_public_key_is_refused(w: World, holder: Any) -> None:
    with pytest.raises(ClaimsInvalid) as info:
        issue(w, holder_jwk=holder(w))
    assert info.value.field == "holder_jwk"


def test_a_private_holder_jwk_is_refused_without_echoing_it(w: World) -> None:
    holder = SigningKey.generate()
    assert isinstance(holder.key, ec.EllipticCurvePrivateKey)
    d = b64url_encode(holder.key.private_numbers().private_value.to_bytes(32, "big"))
    with pytest.raises(ClaimsInvalid) as info:
        issue(w, holder_jwk={**holder.public_jwk(), "d": d})
    assert d not in str(info.value) and d not in repr(info.value)


def test_a_refused_issuance_stores_nothing(w: World) -> None:
    issue(w)  # opens the status list
    uri = w.store.list_status_lists(w.police.iss)[0].uri
    claimed = w.store.count_claimed(uri)
    with pytest.raises(ClaimsInvalid):
        issue(w, claims={**ID_CLAIMS, "birth_date": "never"})
    with pytest.raises(NotAuthorised):
        issue(w, iss=w.civil.iss)
    assert w.store.count_claimed(uri) == claimed
    assert len(w.store.list_credentials(issuer=w.police.iss)) == 1
    assert w.store.list_credentials(issuer=w.civil.iss) == []


def test_issuing_without_an_active_key_raises_no_signing_key(w: World) -> None:
    kid = w.keyring.signing_key(w.police.iss).kid
    w.keyring.set_state(kid, KeyState.RETIRED)
    with pytest.raises(NoSigningKey):
        issue(w)


# -- revoke, suspend, reinstate ----------------------------------------------------------------

STATUS_VALUE = {"valid": 0, "revoked": 1, "suspended": 2}
ACTIONS = {"revoked": "revoke", "suspended": "suspend", "valid": "reinstate"}


def _move(w: World, cid: str, state: str) -> Any:
    return getattr(w.issuer, ACTIONS[state])(w.police.iss, cid)


@pytest.mark.parametrize(
    "path",
    [
        ["revoked"],
        ["suspended"],
        ["suspended", "valid"],
        ["suspended", "revoked"],
        ["suspended", "valid", "suspended", "valid"],
        ["valid"],
        ["revoked", "revoked"],
        ["suspended", "suspended"],
    ],
    ids=lambda p: "valid→" + "→".join(p),
)
def test_allowed_status_changes(w: World, path: list[str]) -> None:
    issued = issue(w)
    rec = issued.record
    for state in path:
        changed = _move(w, issued.id, state)
        assert changed.state == state
        assert stored(w, issued.id).state == state
        assert w.store.get_status(rec.status_uri, rec.status_idx) == STATUS_VALUE[state]


@pytest.mark.parametrize(
    "path",
    [["revoked", "valid"], ["revoked", "suspended"], ["suspended", "revoked", "valid"]],
    ids=lambda p: "valid→" + "→".join(p),
)
def test_revoked_is_final(w: World, path: list[str]) -> None:
    issued = issue(w)
    for state in path[:-1]:
        _move(w, issued.id, state)
    with pytest.raises(InvalidTransition):
        _move(w, issued.id, path[-1])
    rec = issued.record
    assert stored(w, issued.id).state == "revoked"
    assert w.store.get_status(rec.status_uri, rec.status_idx) == 1


def test_a_status_change_touches_only_its_own_entry(w: World) -> None:
    first, second = issue(w), issue(w)
    w.issuer.revoke(w.police.iss, first.id)
    rec = second.record
    assert w.store.get_status(rec.status_uri, rec.status_idx) == 0
    assert stored(w, second.id).state == "valid"


@pytest.mark.parametrize("action", ["revoke", "suspend", "reinstate"])
def test_another_issuers_credential_answers_unknown_credential(w: World, action: str) -> None:
    issued = issue(w)
    with pytest.raises(UnknownCredential) as foreign:
        getattr(w.issuer, action)(w.civil.iss, issued.id)
    with pytest.raises(UnknownCredential) as missing:
        getattr(w.issuer, action)(w.civil.iss, "no-such-credential")
    assert str(foreign.value) == str(missing.value)  # indistinguishable
    rec = issued.record
    assert w.store.get_status(rec.status_uri, rec.status_idx) == 0


def test_a_revoked_credential_fails_verification(w: World) -> None:
    held, wallet = w.issue_id_card()
    w.issuer.revoke(w.police.iss, w.last_id)
    verifier = w.verifier()
    result = verifier.verify(
        wallet.present_for_scene(held, verifier.trust_list.scenes["hotel"]), "hotel"
    )
    assert result.codes == ["revoked"]


# -- keyring rotation ------------------------------------------------------------------------


def _trusted(w: World) -> Any:
    return verify_trust_list(w.platform.trust_list(), w.anchor_jwk).issuers[w.police.iss]


def _state(w: World, kid: str) -> str:
    record = w.store.get_key(kid)
    assert record is not None
    return record.state


def test_a_pending_key_is_published_but_does_not_sign(w: World) -> None:
    old = w.keyring.signing_key(w.police.iss)
    new = w.keyring.create(w.police.iss, state=KeyState.PENDING)
    trusted = _trusted(w)
    assert {old.kid, new.kid} <= set(trusted.keys)
    assert w.keyring.signing_key(w.police.iss).kid == old.kid
    header, _, _ = decode_jwt(issue(w).sd_jwt)
    assert header["kid"] == old.kid
    assert _state(w, new.kid) == "pending"


def test_activating_retires_the_old_key_and_the_new_one_signs(w: World) -> None:
    held_old, wallet = w.issue_id_card()
    old = w.keyring.signing_key(w.police.iss)
    new = w.keyring.create(w.police.iss, state=KeyState.PENDING)
    w.keyring.set_state(new.kid, KeyState.ACTIVE)
    assert _state(w, old.kid) == "retired"
    assert _state(w, new.kid) == "active"
    assert w.keyring.signing_key(w.police.iss).kid == new.kid
    header, _, _ = decode_jwt(issue(w).sd_jwt)
    assert header["kid"] == new.kid
    # the retired key still verifies what it signed
    assert {old.kid, new.kid} <= set(_trusted(w).keys)
    verifier = w.verifier()
    hotel = verifier.trust_list.scenes["hotel"]
    assert verifier.verify(wallet.present_for_scene(held_old, hotel), "hotel").valid


def test_a_compromised_key_is_revoked_and_unpublished(w: World) -> None:
    held_old, wallet = w.issue_id_card()
    old = w.keyring.signing_key(w.police.iss)
    new = w.keyring.create(w.police.iss, state=KeyState.PENDING)
    w.keyring.set_state(new.kid, KeyState.ACTIVE)
    w.keyring.set_state(old.kid, KeyState.COMPROMISED)
    trusted = _trusted(w)
    assert old.kid in trusted.revoked_kids
    assert old.kid not in trusted.keys
    assert new.kid in trusted.keys and new.kid not in trusted.revoked_kids
    verifier = w.verifier()
    result = verifier.verify(
        wallet.present_for_scene(held_old, verifier.trust_list.scenes["hotel"]), "hotel"
    )
    assert result.codes == ["key_compromised"]


def test_creating_an_active_key_retires_the_previous_one(w: World) -> None:
    old = w.keyring.signing_key(w.police.iss)
    w.clock.advance(60)  # records are listed oldest first
    new = w.keyring.create(w.police.iss)
    assert _state(w, old.kid) == "retired"
    assert w.keyring.signing_key(w.police.iss).kid == new.kid
    assert [r.state for r in w.keyring.records(w.police.iss)] == ["retired", "active"]


@pytest.mark.parametrize(
    ("path", "forbidden"),
    [
        ([KeyState.COMPROMISED], KeyState.ACTIVE),
        ([KeyState.COMPROMISED], KeyState.RETIRED),
        ([KeyState.RETIRED], KeyState.ACTIVE),
        ([KeyState.ACTIVE, KeyState.RETIRED], KeyState.PENDING),
    ],
    ids=["compromised-to-active", "compromised-to-retired", "retired-to-active", "to-pending"],
)
def test_forbidden_key_transitions_raise(
    w: World, path: list[KeyState], forbidden: KeyState
) -> None:
    key = w.keyring.create(w.police.iss, state=KeyState.PENDING)
    for state in path:
        w.keyring.set_state(key.kid, state)
    with pytest.raises(KeyStateError):
        w.keyring.set_state(key.kid, forbidden)
    assert _state(w, key.kid) == path[-1].value


def test_set_state_of_an_unknown_kid_raises(w: World) -> None:
    with pytest.raises(NoSigningKey):
        w.keyring.set_state("no-such-kid", KeyState.ACTIVE)


def test_keys_are_stored_encrypted_and_reopen_with_the_same_secret(store: Store) -> None:
    secret = generate_secret()
    key = Keyring(store, KeyWrapper(secret)).create("https://x.example/issuers/a")
    record = store.get_key(key.kid)
    assert record is not None and record.private_blob.startswith(b"EK1")
    assert "d" not in json.loads(record.public_jwk)
    reopened = Keyring(store, KeyWrapper(secret)).signing_key("https://x.example/issuers/a")
    key.verifying_key().verify(b"data", reopened.sign(b"data"))
    with pytest.raises(KeyUnwrapFailed):
        Keyring(store, KeyWrapper(generate_secret())).signing_key("https://x.example/issuers/a")


def test_the_bundle_publishes_a_compromise_before_a_new_key_is_active(w: World) -> None:
    held, wallet = w.issue_id_card()
    kid = w.keyring.signing_key(w.police.iss).kid
    w.keyring.set_state(kid, KeyState.COMPROMISED)
    bundle = w.bundle()
    trusted = verify_trust_list(bundle["trust_list"], w.anchor_jwk).issuers[w.police.iss]
    assert kid in trusted.revoked_kids and kid not in trusted.keys
    # the police lists cannot be re-signed until a new key is active: they are left out
    assert bundle["status_lists"] == []
    verifier = w.verifier()
    result = verifier.verify(
        wallet.present_for_scene(held, verifier.trust_list.scenes["hotel"]), "hotel"
    )
    assert not result.valid and result.codes[0] == "key_compromised"


# -- the platform registry -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "slug",
    ["", "Police", "-police", "police-", "po lice", "police/x", "../x", "公安", "a" * 65, "p_d"],
    ids=[
        "empty",
        "uppercase",
        "leading-dash",
        "trailing-dash",
        "space",
        "slash",
        "dot-dot",
        "chinese",
        "65-chars",
        "underscore",
    ],
)
def test_register_issuer_rejects_bad_slugs(w: World, slug: str) -> None:
    with pytest.raises(IssuerError):
        w.platform.register_issuer(slug, name_zh="部门", name_en="Dept", vcts=[ID_CARD])
    assert all(r.slug != slug for r in w.store.list_issuers())


@pytest.mark.parametrize("slug", ["a", "a-b", "health-2", "a" * 64])
def test_register_issuer_accepts_good_slugs(w: World, slug: str) -> None:
    record = w.platform.register_issuer(slug, name_zh="部门", name_en="Dept", vcts=[ID_CARD])
    assert record.iss == f"{BASE_URL}/issuers/{slug}"
    assert w.platform.issuer(slug) == record == w.platform.issuer(record.iss)
    assert [r.state for r in w.keyring.records(record.iss)] == ["active"]


def test_register_issuer_rejects_unknown_vcts(w: World) -> None:
    with pytest.raises(UnknownCredentialType):
        w.platform.register_issuer(
            "health", name_zh="卫健委", name_en="Health", vcts=[ID_CARD, "urn:ecert:unicorn"]
        )
    assert w.store.get_issuer(w.platform.issuer_url("health")) is None


def test_registering_again_updates_without_a_second_key(w: World) -> None:
    again = w.platform.register_issuer(
        "police", name_zh="市公安局", name_en="Police", vcts=[RESIDENCE_PERMIT]
    )
    assert again.vcts == (RESIDENCE_PERMIT,)
    assert len(w.keyring.records(w.police.iss)) == 1
    with pytest.raises(NotAuthorised):
        issue(w)


def test_unknown_issuer_lookup(w: World) -> None:
    with pytest.raises(UnknownIssuer):
        w.platform.issuer("nobody")


def test_trust_list_entries_carry_names_types_and_keys(w: World) -> None:
    trust = verify_trust_list(w.platform.trust_list(), w.anchor_jwk)
    assert trust.iss == BASE_URL
    police = trust.issuers[w.police.iss]
    assert police.name == {"zh": "市公安局", "en": "City Police"}
    assert police.vcts == frozenset({ID_CARD, RESIDENCE_PERMIT})
    assert set(police.keys) == {w.keyring.signing_key(w.police.iss).kid}
    assert w.anchor.kid not in police.keys
    assert "d" not in w.platform.anchor_jwk()


def _scene(**changes: Any) -> dict[str, Any]:
    scene = {
        "id": "library",
        "name": {"zh": "图书馆办证", "en": "Library card"},
        "accept": [{"vct": ID_CARD, "claims": ["name", "id_number"]}],
        "max_age": 60,
        "category": "education",
    }
    scene.update(changes)
    return scene


def test_set_scenes_replaces_the_published_scenes(w: World) -> None:
    assert {s["id"] for s in w.platform.scenes()} == {s["id"] for s in default_scenes()}
    w.platform.set_scenes([_scene()])
    assert w.platform.scenes() == [_scene()]
    trust = verify_trust_list(w.platform.trust_list(), w.anchor_jwk)
    assert list(trust.scenes) == ["library"]
    assert trust.scenes["library"].max_age == 60


@pytest.mark.parametrize(
    "scenes",
    [
        [],
        [_scene(accept=[])],
        [_scene(accept=[{"vct": "urn:ecert:unicorn", "claims": ["name"]}])],
        [_scene(accept=[{"vct": ID_CARD, "claims": ["favourite_colour"]}])],
        [_scene(accept=[{"vct": ID_CARD, "claims": []}])],
        [_scene(accept=[{"vct": ID_CARD, "claims": ["name", "name"]}])],
        [_scene(), _scene()],
        [_scene(max_age=0)],
        [_scene(max_age="60")],
        [_scene(id="Library Card")],
        [_scene(name={"zh": "图书馆"})],
        [{k: v for k, v in _scene().items() if k != "max_age"}],
        [_scene(extra=True)],
    ],
    ids=[
        "empty",
        "empty-accept",
        "unknown-vct",
        "unknown-claim",
        "no-claims",
        "repeated-claim",
        "repeated-id",
        "max-age-zero",
        "max-age-string",
        "bad-id",
        "name-without-en",
        "no-max-age",
        "unknown-member",
    ],
)
def test_set_scenes_validates(w: World, scenes: list[dict[str, Any]]) -> None:
    with pytest.raises(CatalogueError):
        w.platform.set_scenes(scenes)
    assert {s["id"] for s in w.platform.scenes()} == {s["id"] for s in default_scenes()}


def test_an_already_expired_document_is_refused(store: Store) -> None:
    world = World(store)
    wallet = world.wallet()
    claims = {**ID_CLAIMS, "valid_until": "2020-01-01"}
    with pytest.raises(ClaimsInvalid) as info:
        world.issuer.issue(
            world.police.iss, ID_CARD, subject="c", claims=claims, holder_jwk=wallet.holder_jwk
        )
    assert info.value.field == "valid_until"
    assert store.list_credentials() == []
