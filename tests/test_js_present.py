"""The phone's presentation builder (api/web/static/present.js), run in Node, against the
Python reference: the compact encoder byte for byte (sdjwt/qr_transport.py), the choice
of disclosures (wallet/presentation.py), presentations made wholly in JS with a
non-extractable WebCrypto key verified by the Python offline verifier, and the JS QR
drawing read back by the real decoder (zxing-cpp) at the version wallet/qr.py picks.

Node runs tests/js/harness.js once per module (one JSON request per line); the vendored
libraries are checked against the hashes in api/web/static/vendor/README.md.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import random
import re
import select
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from PIL import Image, ImageDraw

from api.pages import PAGE_CSP
from issuer import load_catalogue
from issuer.catalogue import CredentialType, default_scenes
from keys import SigningKey, sign_compact
from keys.b64 import b64url_decode, b64url_encode
from keys.errors import FormatError
from keys.jws import parse_compact
from keys.signing import VerifyingKey
from sdjwt import TYP_SD_JWT_VC, digest, make_disclosure
from sdjwt.qr_transport import (
    DICTIONARY,
    DICTIONARY_SHA256,
    DICTIONARY_V1,
    DICTIONARY_V1_SHA256,
    PREFIX,
    VERSION,
    b45encode,
    decode_compact,
    encode_compact,
)
from store.sqlite import SQLiteStore
from tests.factory import World
from tests.factory import full_example as factory_example
from tests.hygiene import personal, personal_claims
from verifier import Verifier
from verifier.qrimage import decode_qr
from wallet import Wallet
from wallet.presentation import HeldCredential, present
from wallet.qr import qr_version

ROOT = Path(__file__).resolve().parent.parent
STATIC = ROOT / "api" / "web" / "static"
VENDOR = STATIC / "vendor"
HARNESS = Path(__file__).parent / "js" / "harness.js"
RFC9901 = Path(__file__).parent / "vectors" / "rfc9901"
CATALOGUE = load_catalogue()
SCENES: dict[str, dict[str, Any]] = {s["id"]: s for s in default_scenes()}
#: (scene, vct) for every scene and every credential type it accepts
SCENE_TYPES = sorted((s["id"], a["vct"]) for s in SCENES.values() for a in s["accept"])
SHORT_URL = "https://ecert.example/p/3q2-7wEjRmWx0cNvYtZk9A"
#: How long one answer from Node may take (a generous bound, never a pass/fail timing).
ANSWER_SECONDS = 60


# -- Node ---------------------------------------------------------------------------------------


class Node:
    """tests/js/harness.js in a Node process: one JSON line out, one JSON line back."""

    def __init__(self) -> None:
        binary = shutil.which("node")
        if binary is None:
            pytest.fail(
                "node is not on PATH. The JS presentation tests need Node.js; the test "
                "command installs it with: apt-get update && apt-get install -y nodejs"
            )
        self.proc = subprocess.Popen(
            [binary, str(HARNESS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )

    def answer(self, op: str, **request: Any) -> dict[str, Any]:
        """The harness's raw answer: ``{"ok": ...}`` or ``{"error": {...}}``."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps({"op": op, **request}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], ANSWER_SECONDS)
        assert ready, f"node gave no answer to {op!r}"
        line = self.proc.stdout.readline()
        assert line, f"node ended without answering {op!r}"
        result: dict[str, Any] = json.loads(line)
        return result

    def call(self, op: str, **request: Any) -> Any:
        """The result of ``op``; fails the test if the harness reports an error."""
        result = self.answer(op, **request)
        assert "ok" in result, result
        return result["ok"]

    def error_code(self, op: str, **request: Any) -> str:
        result = self.answer(op, **request)
        assert "error" in result, result
        code: str = result["error"]["code"]
        return code

    def close(self) -> None:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.close()  # the harness ends at the end of its input
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    harness = Node()
    try:
        yield harness
    finally:
        harness.close()


def js_encode(node: Node, texts: list[str]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = node.call("encode", texts=texts)
    return out


# -- credentials --------------------------------------------------------------------------------


def full_example(ctype: CredentialType) -> dict[str, object]:
    return personal_claims(factory_example(ctype, "样例JS示例Sample"), "js present example")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    store = SQLiteStore(str(tmp_path_factory.mktemp("js-present") / "ecert.db"))
    try:
        w = World(store)
        w.registry = w.platform.register_issuer(  # type: ignore[attr-defined]
            "registry", name_zh="登记处", name_en="Registry", vcts=list(CATALOGUE.vcts)
        )
        yield w
    finally:
        store.close()


def issue(world: World, vct: str, holder_jwk: dict[str, Any], decoys: int | None = None) -> str:
    """A credential of type ``vct`` with every claim, issued by the real issuer code."""
    ctype = next(t for t in CATALOGUE.types if t.vct == vct)
    issued = world.issuer.issue(
        world.registry.iss,  # type: ignore[attr-defined]
        vct,
        subject=personal("citizen-js-9", "js present subject"),
        claims=full_example(ctype),
        holder_jwk=holder_jwk,
        decoys=decoys,
    )
    return issued.sd_jwt


def fresh_verifier(world: World, *, live: bool = False) -> Verifier:
    """A new offline verifier (its replay memory empty) over a fresh bundle; ``live``
    lets it check scenes that need an online check (as the service's own verifier)."""
    return world.verifier(live=live)


@pytest.fixture(scope="module")
def python_presentations(world: World) -> list[str]:
    """Python-made texts: for every catalogue type the credential as issued and
    presentations of everything, one claim and nothing; for every scene and type it
    accepts, the scene's presentation (with decoys too); the RFC 9901 examples."""
    scenes = world.verifier().trust_list.scenes
    out: list[str] = []
    for ctype in CATALOGUE.types:
        wallet = Wallet(clock=world.clock)
        held = wallet.add(issue(world, ctype.vct, dict(wallet.holder_jwk)))
        names = sorted(held.claim_names())
        out.append(held.sd_jwt)
        for chosen in (names, names[:1], []):
            out.append(present(held, chosen, holder_key=wallet.holder_key, aud="hotel"))
    for scene_id, vct in SCENE_TYPES:
        for decoys in (None, 5):
            wallet = Wallet(clock=world.clock)
            held = wallet.add(issue(world, vct, dict(wallet.holder_jwk), decoys=decoys))
            out.append(wallet.present_for_scene(held, scenes[scene_id]))
    for name in ("sd_jwt_kb_presentation.txt", "sd_jwt_issuance.txt"):
        out.append("".join((RFC9901 / name).read_text().split()))
    return out


# -- vendored libraries -------------------------------------------------------------------------


_ROW = re.compile(r"^\|\s*`([^`]+)`\s*\|.*\|\s*`([0-9a-f]{64})`\s*\|\s*$", re.MULTILINE)


def test_vendored_files_match_the_hashes_in_their_readme() -> None:
    readme = (VENDOR / "README.md").read_text(encoding="utf-8")
    listed = dict(_ROW.findall(readme))
    on_disk = {p.name for p in VENDOR.iterdir() if p.is_file() and p.name != "README.md"}
    assert listed and set(listed) == on_disk
    for name, sha in listed.items():
        assert hashlib.sha256((VENDOR / name).read_bytes()).hexdigest() == sha, name


def test_every_vendored_library_has_its_licence_next_to_it() -> None:
    for script in VENDOR.glob("*.js"):
        licence = VENDOR / (script.name.split(".")[0].split("_")[0] + ".LICENSE")
        assert licence.is_file() and "MIT" in licence.read_text(encoding="utf-8"), script.name


# -- the compact encoder ------------------------------------------------------------------------


def test_the_js_dictionaries_are_the_frozen_python_dictionaries(node: Node) -> None:
    answer = node.call("dictionary")
    assert (answer["prefix"], answer["version"]) == (PREFIX, VERSION) == ("EC2:", 2)
    assert bytes.fromhex(answer["hex"]) == DICTIONARY
    assert answer["sha256"] == answer["declared"] == DICTIONARY_SHA256
    assert bytes.fromhex(answer["v1_hex"]) == DICTIONARY_V1
    assert answer["v1_sha256"] == answer["v1_declared"] == DICTIONARY_V1_SHA256


def test_js_base45_is_the_python_base45(node: Node) -> None:
    rng = random.Random(45)
    for data in (b"", b"\x00", b"AB", b"Hello!!", b"\xff\xff", rng.randbytes(301)):
        assert node.call("b45", hex=data.hex()) == b45encode(data)


def test_js_encoder_is_byte_identical_on_every_type_and_scene(
    node: Node, python_presentations: list[str]
) -> None:
    # 13 types x 4 texts + 9 (scene, type) pairs x 2 + 2 RFC 9901 examples
    assert len(python_presentations) == 4 * len(CATALOGUE.types) + 2 * len(SCENE_TYPES) + 2
    answers = js_encode(node, python_presentations)
    for plain, answer in zip(python_presentations, answers, strict=True):
        assert answer == {"ok": encode_compact(plain)}
        assert decode_compact(answer["ok"]) == plain


def _random_segment(rng: random.Random) -> str:
    """JSON-ish bytes: quotes, zero bytes, base64url runs of every length, or noise."""
    pieces: list[bytes] = []
    for _ in range(rng.randrange(0, 10)):
        kind = rng.randrange(6)
        if kind == 0:
            pieces.append(rng.randbytes(rng.randrange(0, 20)))
        elif kind == 1:
            token = b64url_encode(rng.randbytes(rng.choice([1, 15, 16, 17, 32, 64, 239, 240])))
            pieces.append(b'"' + token.encode() + b'"')
        elif kind == 2:
            pieces.append(b'"' + b"A" * rng.randrange(20, 330) + b'"')
        elif kind == 3:
            pieces.append(rng.choice([b'"', b"\x00", b'","', b'{"_sd":["', b"\x00\xf0", b'""']))
        elif kind == 4:  # non-canonical: unused bits set
            pieces.append(b'"' + b"Q" * 22 + b'B"')
        else:
            pieces.append('"名字","样例"'.encode())
    data = b"".join(pieces) or rng.randbytes(rng.randrange(1, 40))
    return b64url_encode(data)


def _random_presentations(count: int) -> list[str]:
    rng = random.Random(9)
    out: list[str] = []
    for _ in range(count):
        disclosures = [_random_segment(rng) for _ in range(rng.randrange(0, 6))]
        digests = [digest(d) for d in disclosures]
        payload = b64url_encode(
            json.dumps({"_sd": [*digests, b64url_encode(rng.randbytes(32))]}).encode()
        )
        jwt = f"{_random_segment(rng)}.{payload}.{b64url_encode(rng.randbytes(64))}"
        kb = ""
        if rng.random() < 0.6:
            presented = "~".join([jwt, *disclosures]) + "~"
            kb_payload = json.dumps({"nonce": "x" * 22, "sd_hash": digest(presented)})
            kb = f"{_random_segment(rng)}.{b64url_encode(kb_payload.encode())}.c2ln"
        out.append("~".join([jwt, *disclosures, kb]))
    return out


def test_js_encoder_is_byte_identical_on_random_segments(node: Node) -> None:
    texts = _random_presentations(400)
    answers = js_encode(node, texts)
    for plain, answer in zip(texts, answers, strict=True):
        assert answer == {"ok": encode_compact(plain)}, plain


def _set_text(members: list[str]) -> str:
    return json.dumps(members, separators=(",", ":"))


def test_js_encoder_is_byte_identical_on_sets(
    node: Node, python_presentations: list[str]
) -> None:
    rng = random.Random(12)
    with_kb = [p for p in python_presentations if not p.endswith("~")]
    texts = [
        _set_text(rng.sample(with_kb, rng.randrange(2, 5))) for _ in range(60)
    ] + [_set_text(members) for members in _random_sets(40)]
    answers = js_encode(node, texts)
    for plain, answer in zip(texts, answers, strict=True):
        assert answer == {"ok": encode_compact(plain)}, plain[:80]
        assert decode_compact(answer["ok"]) == plain


def _random_sets(count: int) -> list[list[str]]:
    rng = random.Random(13)
    texts = _random_presentations(4 * count)
    return [[texts.pop() for _ in range(rng.randrange(2, 5))] for _ in range(count)]


SET_REFUSALS = [
    "[]",
    '["a"]',
    '["eyJh.eyJh.c2ln~"]',
    '["eyJh.eyJh.c2ln~", "eyJh.eyJh.c2ln~"]',
    '["eyJh.eyJh.c2ln~","eyJh.eyJh.c2ln~",]',
    '["eyJh.eyJh.c2ln~",1]',
    '["\\u0065yJh.eyJh.c2ln~","eyJh.eyJh.c2ln~"]',
    '["eyJh.eyJh.c2ln~","eyJh.eyJh.c2ln~"',
    '["eyJh.eyJh.c2ln~",""]',
    _set_text(["eyJh.eyJh.c2ln~"] * 5),
    '["eyJh.eyJh.c2ln~","eyJh.eyJh~"]',
    '["eyJh.eyJh.c2ln~","eyJh.eyJh.c2m~"]',
    "[" * 4000,
]


@pytest.mark.parametrize("bad", SET_REFUSALS)
def test_js_encoder_refuses_the_set_forms_python_refuses(node: Node, bad: str) -> None:
    with pytest.raises(FormatError):
        encode_compact(bad)
    assert js_encode(node, [bad])[0]["error"]["code"] == "malformed"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "eyJhbGciOiJFUzI1NiJ9",  # no "~"
        "eyJh.eyJh~",  # two segments
        "eyJh.eyJh.c2ln~a.b~",  # a disclosure with a "."
        "eyJh.eyJh.c2ln~~",  # an empty disclosure
        "eyJh.eyJh.c2m~",  # non-canonical base64url (unused bits set)
        "eyJh.eyJh.c2lua~",  # an impossible length
        "eyJh.eyJh.c2ln~ZGlz=~",  # padding
        "eyJh.eyJh.c2ln~ZGl\u00e9~",  # not ASCII
        "eyJh.eyJh.c2ln~" + "QUFB" * 5000 + "~",  # too large
        # small enough as text, but random bytes: the compact text would be too large
        "eyJh.eyJh.c2ln~" + b64url_encode(random.Random(8).randbytes(9000)) + "~",
    ],
)
def test_js_encoder_refuses_what_python_refuses(node: Node, bad: str) -> None:
    with pytest.raises(FormatError):
        encode_compact(bad)
    assert js_encode(node, [bad])[0]["error"]["code"] == "malformed"


# -- choosing the disclosures -------------------------------------------------------------------


def _disclosure(name: str | None, value: Any) -> tuple[str, str]:
    d = make_disclosure(name, value)
    return d.encoded, d.digest


@pytest.fixture(scope="module")
def nested_credential() -> tuple[str, SigningKey]:
    """An SD-JWT VC built by hand: an object claim with disclosable members, one of them
    an object with its own, an array with disclosable elements, a plain claim holding
    digests, a decoy and a disclosure that nothing references."""
    street, street_dig = _disclosure("street", "示例路1号")
    zone, zone_dig = _disclosure("zone", "A")
    district, district_dig = _disclosure("district", {"_sd": [zone_dig], "x": 1})
    address, address_dig = _disclosure("address", {"_sd": [street_dig, district_dig]})
    cn, cn_dig = _disclosure(None, "CN")
    de, de_dig = _disclosure(None, {"_sd": []})
    nations, nations_dig = _disclosure("nationalities", [{"...": cn_dig}, {"...": de_dig}, "FR"])
    inner, inner_dig = _disclosure("inner", 7)
    name, name_dig = _disclosure("name", "张三")
    orphan, _ = _disclosure("orphan", "nobody points here")
    holder = SigningKey.generate("ES256")
    issuer = SigningKey.generate("ES256")
    payload = {
        "iss": "https://ecert.example/issuers/test",
        "iat": 1,
        "exp": 2_000_000_000,
        "vct": "urn:ecert:test",
        "_sd": [name_dig, address_dig, nations_dig, b64url_encode(bytes(32))],
        "_sd_alg": "sha-256",
        "plain": {"_sd": [inner_dig], "kept": [1, {"deep": True}]},
        "level": 3,
        "cnf": {"jwk": dict(holder.public_jwk())},
    }
    jwt = sign_compact(payload, issuer, typ=TYP_SD_JWT_VC)
    encoded = [orphan, zone, street, name, cn, district, nations, inner, de, address]
    return "~".join([jwt, *encoded]) + "~", holder


@pytest.mark.parametrize(
    "claims",
    [
        ["name"],
        ["address"],
        ["nationalities", "name"],
        ["address", "address", "name"],
        ["plain"],
        ["level", "plain", "address"],
        ["plain", "nationalities", "address", "name", "level"],
        [],
    ],
)
def test_js_chooses_the_same_disclosures_as_python(
    node: Node, nested_credential: tuple[str, SigningKey], claims: list[str]
) -> None:
    sd_jwt, holder = nested_credential
    held = HeldCredential.parse(sd_jwt)
    expected = present(held, claims, holder_key=holder, aud="hotel").rsplit("~", 1)[0] + "~"
    assert node.call("choose", sd_jwt=sd_jwt, claims=claims)["prefix"] == expected


def test_js_refuses_a_claim_the_credential_lacks(
    node: Node, nested_credential: tuple[str, SigningKey]
) -> None:
    sd_jwt, _ = nested_credential
    code = node.error_code("choose", sd_jwt=sd_jwt, claims=["name", "id_number"])
    assert code == "scene_unmet"


@pytest.mark.parametrize(
    "bad",
    [
        "not an sd-jwt",
        "a.b.c~",  # header and payload are not JSON
        "x" * (64 * 1024 + 1),
    ],
)
def test_js_refuses_an_unreadable_credential(node: Node, bad: str) -> None:
    assert node.error_code("parse", sd_jwt=bad) == "credential_unreadable"


@pytest.mark.parametrize(
    "header",
    [b'{"alg":"HS256","typ":"dc+sd-jwt"}', b'{"alg":"ES256","typ":"kb+jwt"}', b"[]"],
)
def test_js_refuses_a_credential_with_another_header(
    node: Node, nested_credential: tuple[str, SigningKey], header: bytes
) -> None:
    sd_jwt, _ = nested_credential
    forged = b64url_encode(header) + sd_jwt[sd_jwt.index(".") :]
    assert node.call("parse", sd_jwt=sd_jwt)["vct"] == "urn:ecert:test"
    assert node.error_code("parse", sd_jwt=forged) == "credential_unreadable"


def test_js_refuses_a_credential_carrying_a_key_binding_jwt(
    node: Node, nested_credential: tuple[str, SigningKey]
) -> None:
    sd_jwt, _ = nested_credential
    assert node.error_code("parse", sd_jwt=sd_jwt + "a.b.c") == "credential_unreadable"


# -- presentations made entirely in JS ----------------------------------------------------------


@pytest.fixture(scope="module")
def device(node: Node) -> dict[str, Any]:
    """A device key made by WebCrypto in Node: the private half not extractable."""
    key: dict[str, Any] = node.call("generate_key")
    return key


def test_the_device_private_key_cannot_be_exported(node: Node, device: dict[str, Any]) -> None:
    assert device["extractable"] is False and device["usages"] == ["sign"]
    for fmt in ("jwk", "pkcs8"):
        answer = node.call("export_private", handle=device["handle"], format=fmt)
        assert answer["exported"] is False and "InvalidAccess" in answer["name"]


def _claims_of(sd_jwt: str, names: list[str]) -> dict[str, object]:
    ctype_claims = full_example(next(t for t in CATALOGUE.types if t.vct == _vct(sd_jwt)))
    return {name: ctype_claims[name] for name in names}


def _vct(sd_jwt: str) -> str:
    payload = json.loads(b64url_decode(sd_jwt.split(".")[1]))
    vct: str = payload["vct"]
    return vct


@pytest.mark.parametrize(("scene", "vct"), SCENE_TYPES)
def test_a_js_presentation_verifies_in_python(
    node: Node, world: World, device: dict[str, Any], scene: str, vct: str
) -> None:
    sd_jwt = issue(world, vct, device["public_jwk"])
    made = node.call(
        "present",
        handle=device["handle"],
        sd_jwt=sd_jwt,
        scene=SCENES[scene],
        now=world.clock(),
        compact=True,
    )
    plain, compact = made["plain"], made["compact"]
    assert compact == encode_compact(plain) and decode_compact(compact) == plain
    (wanted,) = [a["claims"] for a in SCENES[scene]["accept"] if a["vct"] == vct]
    for text in (plain, compact):
        online = bool(SCENES[scene].get("online"))
        result = fresh_verifier(world, live=online).verify(text, scene)
        assert result.valid, result.errors
        assert result.vct == vct
        assert result.claims == _claims_of(sd_jwt, wanted)


def _flip(text: str, index: int) -> str:
    """``text`` with the base64url/Base45 character at ``index`` replaced by another."""
    char = text[index]
    return text[:index] + ("B" if char != "B" else "C") + text[index + 1 :]


#: What a tampered presentation may be refused with (a dropped disclosure also leaves the
#: scene's claim missing).
REFUSED = {"key_binding_invalid", "malformed", "invalid_signature", "scene_unmet"}


def test_a_tampered_js_presentation_is_refused(
    node: Node, world: World, device: dict[str, Any]
) -> None:
    sd_jwt = issue(world, "urn:ecert:resident-id-card", device["public_jwk"])
    made = node.call(
        "present",
        handle=device["handle"],
        sd_jwt=sd_jwt,
        scene=SCENES["hotel"],
        now=world.clock(),
        compact=True,
    )
    plain, compact = made["plain"], made["compact"]
    jwt, *disclosures, kb = plain.split("~")
    kb_header, kb_payload, kb_signature = kb.split(".")
    other_aud = json.loads(b64url_decode(kb_payload))
    other_aud["aud"] = "bank"
    forged_payload = b64url_encode(json.dumps(other_aud).encode())
    tampered = {
        # the KB-JWT's signature altered
        "signature": "~".join(
            [jwt, *disclosures, f"{kb_header}.{kb_payload}.{_flip(kb_signature, 5)}"]
        ),
        # a disclosure dropped: sd_hash no longer matches
        "dropped": "~".join([jwt, *disclosures[1:], kb]),
        # the audience rewritten (signature no longer matches)
        "aud": "~".join([jwt, *disclosures, f"{kb_header}.{forged_payload}.{kb_signature}"]),
        # a character of the compact text changed
        "compact": _flip(compact, len(compact) // 2),
    }
    for what, text in tampered.items():
        result = fresh_verifier(world).verify(text, "hotel")
        assert not result.valid and not result.claims, what
        assert set(result.codes) <= REFUSED, what
    # shown to another scene than the one it was made for
    wrong = fresh_verifier(world).verify(plain, "pharmacy")
    assert wrong.codes == ["key_binding_invalid"]


def test_js_refuses_to_present_another_keys_credential(
    node: Node, world: World, device: dict[str, Any]
) -> None:
    other = SigningKey.generate("ES256")
    sd_jwt = issue(world, "urn:ecert:resident-id-card", dict(other.public_jwk()))
    code = node.error_code(
        "present", handle=device["handle"], sd_jwt=sd_jwt, scene=SCENES["hotel"], now=world.clock()
    )
    assert code == "not_holder"


def test_js_refuses_a_scene_that_does_not_take_the_type(
    node: Node, world: World, device: dict[str, Any]
) -> None:
    sd_jwt = issue(world, "urn:ecert:marriage-certificate", device["public_jwk"])
    code = node.error_code(
        "present", handle=device["handle"], sd_jwt=sd_jwt, scene=SCENES["hotel"], now=world.clock()
    )
    assert code == "scene_unmet"


def test_js_refuses_to_present_an_expired_credential(
    node: Node, world: World, device: dict[str, Any]
) -> None:
    sd_jwt = issue(world, "urn:ecert:resident-id-card", device["public_jwk"])
    exp = json.loads(b64url_decode(sd_jwt.split(".")[1]))["exp"]
    request = {"handle": device["handle"], "sd_jwt": sd_jwt, "scene": SCENES["hotel"]}
    assert "ok" in node.answer("present", now=exp + 30, **request)  # within the leeway
    assert node.error_code("present", now=exp + 31, **request) == "credential_expired"


# -- sets made on the device ------------------------------------------------------------------


def school_set_scene() -> dict[str, Any]:
    """The school scene as a set: its ``all_of`` (or, before the scenes land, its accept
    entries, household register and birth medical certificate, as one set)."""
    school = dict(SCENES["school"])
    if not school.get("all_of"):
        school["all_of"], school["accept"] = school["accept"], []
    return school


def _kb_payload(member: str) -> dict[str, Any]:
    payload: dict[str, Any] = json.loads(b64url_decode(member.rsplit("~", 1)[1].split(".")[1]))
    return payload


def test_a_js_set_for_the_school_is_one_qr_of_key_bound_members(
    node: Node, world: World, device: dict[str, Any]
) -> None:
    scene = school_set_scene()
    wanted = [(entry["vct"], entry["claims"]) for entry in scene["all_of"]]
    sd_jwts = [issue(world, vct, device["public_jwk"]) for vct, _ in reversed(wanted)]
    made = node.call(
        "present_set", handle=device["handle"], sd_jwts=sd_jwts, scene=scene, now=world.clock()
    )
    plain, compact = made["plain"], made["compact"]
    assert compact == encode_compact(plain) and decode_compact(compact) == plain
    members = json.loads(plain)
    assert plain == _set_text(members) and len(members) == len(wanted)
    device_key = VerifyingKey.from_jwk(device["public_jwk"])
    nonces = set()
    for member, (vct, claims) in zip(members, wanted, strict=True):  # in all_of's order
        assert _vct(member) == vct
        *prefix, kb = member.split("~")
        kb_jws = parse_compact(kb, typ="kb+jwt")
        device_key.verify(kb_jws.signing_input, kb_jws.signature)
        payload = _kb_payload(member)
        assert payload["aud"] == "school" and payload["iat"] == int(world.clock())
        assert payload["sd_hash"] == digest("~".join(prefix) + "~")
        nonces.add(payload["nonce"])
        names = [json.loads(b64url_decode(d))[1] for d in prefix[1:]]
        assert names == claims  # exactly the scene's claims, in its order
    assert len(nonces) == 1  # one nonce for the whole set
    qr = node.call("qr", text=compact)  # its size: tests/test_qr_transport_sizes.py
    assert decode_qr(rasterise(qr["svg"])) == compact and qr["version"] == qr_version(compact, "M")


def test_js_refuses_a_set_with_a_type_missing_or_another_keys_member(
    node: Node, world: World, device: dict[str, Any]
) -> None:
    scene = school_set_scene()
    vcts = [entry["vct"] for entry in scene["all_of"]]
    mine = [issue(world, vct, device["public_jwk"]) for vct in vcts]
    request = {"handle": device["handle"], "scene": scene, "now": world.clock()}
    assert node.error_code("present_set", sd_jwts=mine[:1], **request) == "scene_unmet"
    other = SigningKey.generate("ES256")
    theirs = issue(world, vcts[-1], dict(other.public_jwk()))
    assert node.error_code("present_set", sd_jwts=[*mine[:-1], theirs], **request) == "not_holder"
    one_of = dict(SCENES["hotel"])
    assert node.error_code("present_set", sd_jwts=mine, **{**request, "scene": one_of}) == (
        "scene_unmet"
    )


#: A link credential's claims (common12.md), with valid ID numbers.
LINKS = {
    "urn:ecert:guardianship": {
        "guardian_name": "王芳", "guardian_id_number": "110101199003070011",
        "ward_name": "李小明", "ward_id_number": "110101201506010029",
        "ward_birth_date": "2015-06-01", "relationship": "mother",
    },
    "urn:ecert:care-authorisation": {
        "principal_name": "张三", "principal_id_number": "110101194501010035",
        "carer_name": "李四", "carer_id_number": "110101196005150046",
        "scenes": "bank pharmacy", "valid_until": "2027-06-30",
    },
}  # fmt: skip


def link_credential(vct: str, holder_jwk: dict[str, Any], exp: int) -> str:
    """A link credential built by hand (its type comes with the guardians' catalogue):
    every claim selectively disclosable, bound to ``holder_jwk``."""
    disclosures = [make_disclosure(name, value) for name, value in LINKS[vct].items()]
    payload = {
        "iss": "https://ecert.example/issuers/police",
        "iat": 1,
        "exp": exp,
        "vct": vct,
        "_sd": sorted(d.digest for d in disclosures),
        "_sd_alg": "sha-256",
        "cnf": {"jwk": holder_jwk},
    }
    jwt = sign_compact(payload, SigningKey.generate("ES256"), typ=TYP_SD_JWT_VC)
    return "~".join([jwt, *(d.encoded for d in disclosures)]) + "~"


@pytest.mark.parametrize(
    ("link_vct", "scene_id", "flag", "claims"),
    [
        ("urn:ecert:guardianship", "hospital", "guardian",
         ["guardian_name", "ward_name", "relationship"]),
        ("urn:ecert:care-authorisation", "bank", "carer",
         ["principal_name", "carer_name", "scenes"]),
    ],
)  # fmt: skip
def test_a_js_guardian_or_carer_set_is_the_held_for_credential_then_its_link(
    node: Node,
    world: World,
    device: dict[str, Any],
    link_vct: str,
    scene_id: str,
    flag: str,
    claims: list[str],
) -> None:
    scene = {**SCENES[scene_id], flag: True}
    held = issue(world, "urn:ecert:resident-id-card", device["public_jwk"])
    link = link_credential(link_vct, device["public_jwk"], int(world.clock()) + 86_400)
    request = {"handle": device["handle"], "sd_jwt": held, "link": link, "now": world.clock()}
    made = node.call("present_with_link", scene=scene, **request)
    plain, compact = made["plain"], made["compact"]
    assert compact == encode_compact(plain) and decode_compact(compact) == plain
    members = json.loads(plain)
    assert [_vct(m) for m in members] == ["urn:ecert:resident-id-card", link_vct]
    kb = [_kb_payload(m) for m in members]
    assert {p["aud"] for p in kb} == {scene_id} and len({p["nonce"] for p in kb}) == 1
    link_names = [json.loads(b64url_decode(d))[1] for d in members[1].split("~")[1:-1]]
    assert link_names == claims  # who presents for whom, never the link's ID numbers
    (wanted,) = [a["claims"] for a in scene["accept"] if a["vct"] == _vct(members[0])]
    held_names = [json.loads(b64url_decode(d))[1] for d in members[0].split("~")[1:-1]]
    assert held_names == wanted
    # a scene that does not take the link, or an expired link, is refused
    assert node.error_code("present_with_link", scene={**scene, flag: False}, **request) == (
        "scene_unmet"
    )
    old = link_credential(link_vct, device["public_jwk"], int(world.clock()) - 3_600)
    assert node.error_code("present_with_link", scene=scene, **{**request, "link": old}) == (
        "credential_expired"
    )


# -- the QR drawing -----------------------------------------------------------------------------


_SVG_NS = "{http://www.w3.org/2000/svg}"
_RUN = re.compile(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z")


def rasterise(svg: str, scale: int = 6) -> bytes:
    """A PNG of present.js's SVG: a white square and one path of one-module-high runs."""
    root = ElementTree.fromstring(svg)
    _, _, width, height = (int(v) for v in root.attrib["viewBox"].split())
    assert not list(root.iter(f"{_SVG_NS}script"))
    (path,) = root.iter(f"{_SVG_NS}path")
    d = path.attrib["d"]
    runs = _RUN.findall(d)
    assert runs and "".join(m.group(0) for m in _RUN.finditer(d)) == d, "unexpected path"
    image = Image.new("L", (width * scale, height * scale), 255)
    draw = ImageDraw.Draw(image)
    for x, y, w, back in runs:
        assert w == back
        x0, y0 = int(x) * scale, int(y) * scale
        draw.rectangle((x0, y0, x0 + int(w) * scale - 1, y0 + scale - 1), fill=0)
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def test_the_js_qr_code_decodes_at_the_python_version(node: Node, world: World) -> None:
    scenes = world.verifier().trust_list.scenes
    held, wallet = world.issue_id_card()
    texts = {
        "hotel": encode_compact(wallet.present_for_scene(held, scenes["hotel"])),
        "bank": encode_compact(wallet.present_for_scene(held, scenes["bank"])),
        "url": SHORT_URL,
    }
    for which, text in texts.items():
        qr = node.call("qr", text=text)
        assert decode_qr(rasterise(qr["svg"])) == text, which
        assert qr["version"] == (qr["size"] - 17) // 4
        if which != "url":  # one alphanumeric segment, as wallet/qr.py writes it
            assert qr["version"] == qr_version(text, "M"), which
    assert node.call("qr", text=texts["hotel"])["version"] <= 22


def test_the_js_qr_code_of_a_js_presentation_decodes(
    node: Node, world: World, device: dict[str, Any]
) -> None:
    sd_jwt = issue(world, "urn:ecert:residence-permit", device["public_jwk"])
    made = node.call(
        "present",
        handle=device["handle"],
        sd_jwt=sd_jwt,
        scene=SCENES["hotel"],
        now=world.clock(),
        compact=True,
    )
    qr = node.call("qr", text=made["compact"])
    scanned = decode_qr(rasterise(qr["svg"]))
    assert scanned == made["compact"]
    assert fresh_verifier(world).verify(scanned, "hotel").valid


def test_the_js_qr_refuses_text_too_long_or_not_ascii(node: Node) -> None:
    assert node.error_code("qr", text="A" * 8000) == "qr_too_large"
    assert node.error_code("qr", text="名字") == "qr_unencodable"


# -- in Chromium: the scripts as a page loads them, under the pages' CSP, offline -------------


class _StaticHandler(http.server.BaseHTTPRequestHandler):
    """``/`` is tests/js/page.html; ``/web/<file>`` a file of api/web/static (as the service
    serves them), every answer with the pages' Content-Security-Policy."""

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/":
            file, media = HARNESS.with_name("page.html"), "text/html; charset=utf-8"
        else:
            file = (STATIC / path.removeprefix("/web/")).resolve()
            media = "text/javascript; charset=utf-8"
            inside = path.startswith("/web/") and file.is_relative_to(STATIC)
            if not inside or not file.is_file():  # /favicon.ico too
                self.send_error(404)
                return
        body = file.read_bytes()
        self.send_response(200)
        self.send_header("Content-Type", media)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Security-Policy", PAGE_CSP)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def _console_error(message: Any, problems: list[str]) -> None:
    if message.type == "error" and "Failed to load resource" not in message.text:
        problems.append(f"console: {message.text}")


def _not_served(response: Any, problems: list[str]) -> None:
    if response.status != 200 and not response.url.endswith("/favicon.ico"):
        problems.append(f"{response.status} {response.url}")


@pytest.fixture(scope="module")
def static_site() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StaticHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_in_chromium_offline_the_page_presents_and_draws_a_qr_that_verifies(
    static_site: str, world: World
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.browser_helpers import launch_chromium, phone_context

    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = phone_context(browser, static_site)
            context.set_default_timeout(15_000)
            page = context.new_page()
            problems: list[str] = []  # script errors, CSP violations, files not served
            page.on("pageerror", lambda err: problems.append(f"pageerror: {err}"))
            page.on("console", lambda m: _console_error(m, problems))
            page.on("response", lambda r: _not_served(r, problems))
            page.goto("/")
            page.wait_for_function("() => window.EcertPresent && EcertPresent.supported()")
            key = page.evaluate(
                """async () => {
                    window.deviceKey = await EcertPresent.generateDeviceKey();
                    let exported = null;
                    try {
                        await crypto.subtle.exportKey("jwk", window.deviceKey.privateKey);
                        exported = "exported";
                    } catch (err) { exported = err.name; }
                    return {jwk: window.deviceKey.publicJwk, exported,
                            extractable: window.deviceKey.privateKey.extractable};
                }"""
            )
            assert key["extractable"] is False and key["exported"] == "InvalidAccessError"
            sd_jwt = issue(world, "urn:ecert:resident-id-card", key["jwk"])
            context.set_offline(True)  # from here on, no network
            made = page.evaluate(
                """async ([sdJwt, scene, now]) => {
                    const held = await EcertPresent.parseHeld(sdJwt);
                    const plain = await EcertPresent.presentForScene(
                        held, scene, window.deviceKey, {now});
                    const compact = await EcertPresent.encodeCompact(plain);
                    const qr = EcertPresent.drawQr(compact, document.getElementById("qr"));
                    qr.svg.setAttribute("width", "600");
                    qr.svg.setAttribute("height", "600");
                    return {plain, compact, version: qr.version};
                }""",
                [sd_jwt, SCENES["hotel"], world.clock()],
            )
            assert made["compact"] == encode_compact(made["plain"])
            scanned = decode_qr(page.locator("#qr svg").screenshot())
            assert scanned == made["compact"] and made["version"] == qr_version(scanned, "M")
            result = fresh_verifier(world).verify(scanned, "hotel")
            assert result.valid, result.errors
            assert set(result.claims) == {"name", "id_number"}
            assert problems == []
            context.close()
        finally:
            browser.close()


#: Puts a device (key, copies) into this browser's IndexedDB as device.js keeps it.
SEED_DEVICE = """async ([handle, copies, cards]) => {
    const db = await new Promise((resolve, reject) => {
        const request = indexedDB.open("ecert-device", 1);
        request.onupgradeneeded = () => request.result.createObjectStore("kv");
        request.onsuccess = () => resolve(request.result);
        request.onerror = () => reject(request.error);
    });
    const device = {deviceId: "device-1", kid: "kid-1", label: "test phone",
                    privateKey: window.deviceKey.privateKey,
                    publicJwk: window.deviceKey.publicJwk};
    const data = {copies, cards, offset: 0, savedAt: 0};
    await new Promise((resolve, reject) => {
        const tx = db.transaction("kv", "readwrite");
        tx.objectStore("kv").put(device, "device:" + handle);
        tx.objectStore("kv").put(data, "data:" + handle);
        tx.objectStore("kv").put(handle, "last");
        tx.oncomplete = resolve;
        tx.onerror = () => reject(tx.error);
    });
    db.close();
}"""


def test_in_chromium_offline_the_device_shows_a_set_from_its_copies(
    static_site: str, world: World
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    from tests.browser_helpers import launch_chromium, phone_context

    scene = school_set_scene()
    vcts = [entry["vct"] for entry in scene["all_of"]]
    with sync_api.sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = phone_context(browser, static_site)
            context.set_default_timeout(15_000)
            page = context.new_page()
            problems: list[str] = []
            page.on("pageerror", lambda err: problems.append(f"pageerror: {err}"))
            page.on("console", lambda m: _console_error(m, problems))
            page.goto("/")
            page.wait_for_function("() => window.EcertDevice && EcertPresent.supported()")
            jwk = page.evaluate(
                """async () => {
                    window.deviceKey = await EcertPresent.generateDeviceKey();
                    return window.deviceKey.publicJwk;
                }"""
            )
            # this phone's copies: a revoked household register listed first, then the
            # one it can show, and a birth medical certificate
            copies = {
                "card-revoked": {"id": "c0", "vct": vcts[0], "status": "revoked"},
                "card-a": {"id": "c1", "vct": vcts[0], "status": "valid"},
                "card-b": {"id": "c2", "vct": vcts[1], "status": "valid"},
            }
            for copy in copies.values():
                copy["sd_jwt"] = issue(world, copy["vct"], jwk)
            cards = [{"id": card} for card in copies]
            page.evaluate(SEED_DEVICE, ["h" * 32, copies, cards])
            context.set_offline(True)  # from here on, no network
            made = page.evaluate(
                """async ([scene, now]) => {
                    const opened = await EcertDevice.openOffline();
                    if (!opened) return null;
                    const before = EcertDevice.setCards({all_of: [{vct: "urn:ecert:none"}]});
                    const made = await EcertDevice.presentSet(scene);
                    const qr = EcertPresent.drawQr(made.text, document.getElementById("qr"));
                    qr.svg.setAttribute("width", "900");
                    qr.svg.setAttribute("height", "900");
                    return {text: made.text, cards: made.cards, before, version: qr.version};
                }""",
                [scene, world.clock()],
            )
            assert made is not None
            assert made["before"] == [None]  # a type it holds no copy of
            assert made["cards"] == ["card-a", "card-b"]  # never the revoked copy
            scanned = decode_qr(page.locator("#qr svg").screenshot())
            assert scanned == made["text"] and made["version"] == qr_version(scanned, "M")
            members = json.loads(decode_compact(scanned))
            device_key = VerifyingKey.from_jwk(jwk)
            kb = [_kb_payload(member) for member in members]
            assert [_vct(member) for member in members] == vcts
            assert {p["aud"] for p in kb} == {"school"} and len({p["nonce"] for p in kb}) == 1
            for member in members:
                kb_jws = parse_compact(member.rsplit("~", 1)[1], typ="kb+jwt")
                device_key.verify(kb_jws.signing_input, kb_jws.signature)
            # a set the phone cannot complete is refused, not shown in part
            missing = page.evaluate(
                """async (scene) => {
                    try { await EcertDevice.presentSet(scene); return "shown"; }
                    catch (err) { return err.code; }
                }""",
                {**scene, "all_of": [scene["all_of"][0], {"vct": "urn:ecert:none", "claims": []}]},
            )
            assert missing == "no_device_copy"
            assert problems == []
            context.close()
        finally:
            browser.close()
