"""The ``ecert`` command line (DESIGN.md §5), driven in-process through ``cli.main.main``
with ``ECERT_INSTANCE`` in ``tmp_path``; the installed console script runs once for
``ecert demo``.

Exit codes: 0 valid / success, 1 invalid / domain failure, 2 bad usage or unreadable input.
"""

from __future__ import annotations

import base64
import functools
import http.server
import io
import json
import os
import re
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from keys import thumbprint, verify_trust_list
from keys.b64 import b64url_decode, b64url_encode
from tests.factory import ID_CARD, ID_CLAIMS
from tests.hygiene import SESSION_LOGS
from wallet import HeldCredential

RESIDENCE_PERMIT = "urn:ecert:residence-permit"


@dataclass
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass
class Cli:
    """Runs ``ecert`` in-process in ``folder`` and keeps every output it printed."""

    folder: Path
    capsys: pytest.CaptureFixture[str]
    monkeypatch: pytest.MonkeyPatch
    outputs: list[str] = field(default_factory=list)

    def __call__(self, *args: str | Path, stdin: str | None = None) -> Run:
        if stdin is not None:
            self.monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
        self.capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = self.capsys.readouterr()
        self.outputs += [out, err]
        return Run(code, out, err)

    @property
    def instance(self) -> Path:
        return self.folder / "instance"

    def secret(self) -> str:
        return (self.instance / "secret.key").read_text(encoding="ascii").strip()


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    for name in ("ECERT_KEY_SECRET", "ECERT_REDIS_URL", "ECERT_BASE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ECERT_INSTANCE", str(tmp_path / "instance"))
    monkeypatch.chdir(tmp_path)
    return Cli(tmp_path, capsys, monkeypatch)


@dataclass
class Setup:
    """An instance with the police, a holder, an issued ID card, the anchor and a bundle."""

    credential: Path
    credential_id: str
    holder: Path
    anchor: Path
    bundle: Path
    claims: Path

    def verify_args(self, bundle: Path | None = None) -> list[str | Path]:
        return ["--bundle", bundle or self.bundle, "--anchor", self.anchor]


def credential_id(err: str) -> str:
    match = re.search(r"credential id: (\S+)", err)
    assert match, err
    return match.group(1)


@pytest.fixture
def ready(cli: Cli) -> Setup:
    return set_up(cli)


def set_up(cli: Cli) -> Setup:
    """init, a department, a holder key, an issued ID card, the anchor file, a bundle."""
    assert cli("init", "--base-url", "https://ecert.example").code == 0
    added = cli(
        "issuer", "add", "police", "--zh", "市公安局", "--en", "City Police",
        "--vct", ID_CARD, "--vct", RESIDENCE_PERMIT,
    )  # fmt: skip
    assert added.code == 0, added.err
    assert cli("holder-key", "-o", "holder.pem").code == 0
    claims = cli.folder / "claims.json"
    claims.write_text(json.dumps(ID_CLAIMS, ensure_ascii=False), encoding="utf-8")
    issued = cli(
        "issue", "police", ID_CARD, "--claims", claims, "--holder", "holder.pem",
        "--subject", "citizen-1", "-o", "credential.txt",
    )  # fmt: skip
    assert issued.code == 0, issued.err
    assert cli("keys", "anchor", "-o", "anchor.json").code == 0
    assert cli("bundle", "export", "-o", "bundle.json").code == 0
    return Setup(
        credential=cli.folder / "credential.txt",
        credential_id=credential_id(issued.err),
        holder=cli.folder / "holder.pem",
        anchor=cli.folder / "anchor.json",
        bundle=cli.folder / "bundle.json",
        claims=claims,
    )


def present(cli: Cli, s: Setup, scene: str = "hotel") -> str:
    run = cli("present", s.credential, "--holder", s.holder, "--scene", scene, *s.verify_args())
    assert run.code == 0, run.err
    return run.out.strip()


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# -- operator set-up -------------------------------------------------------------------------------


def test_init_creates_the_instance_with_a_private_secret(cli: Cli) -> None:
    run = cli("init")
    assert run.code == 0, run.err
    assert "trust anchor kid" in run.err
    assert (cli.instance / "ecert.db").exists()
    assert mode(cli.instance / "secret.key") == 0o600
    assert mode(cli.instance) & 0o077 == 0
    assert len(b64url_decode(cli.secret())) == 32


def test_init_keeps_the_first_base_url(cli: Cli) -> None:
    assert cli("init", "--base-url", "https://gov.example").code == 0
    assert cli("init", "--base-url", "https://other.example").code == 0
    added = cli("issuer", "add", "police", "--zh", "公安", "--en", "Police", "--vct", ID_CARD)
    assert added.json()["iss"] == "https://gov.example/issuers/police"
    listed = cli("issuer", "list").json()
    assert [i["slug"] for i in listed] == ["police"]
    assert listed[0]["name"] == {"zh": "公安", "en": "Police"}


def test_init_is_idempotent(cli: Cli) -> None:
    first = cli("keys", "anchor").json()
    assert cli("init").code == 0
    assert cli("keys", "anchor").json() == first


def test_types_lists_the_catalogue(cli: Cli) -> None:
    run = cli("types")
    assert run.code == 0
    line = next(line for line in run.out.splitlines() if line.startswith(ID_CARD))
    assert "居民身份证" in line and "Resident ID card" in line
    types = cli("types", "--json").json()
    assert ID_CARD in {t["vct"] for t in types}
    assert all({"vct", "name", "claims"} <= set(t) for t in types)


def test_keys_anchor_writes_the_public_jwk(cli: Cli) -> None:
    run = cli("keys", "anchor", "-o", "anchor.json")
    assert run.code == 0
    jwk = json.loads((cli.folder / "anchor.json").read_text(encoding="utf-8"))
    assert jwk == run.json()
    assert "d" not in jwk
    assert jwk["kid"] == thumbprint(jwk)
    assert jwk["alg"] == "ES256"


def test_holder_key_is_a_private_pem_and_prints_the_public_jwk(cli: Cli) -> None:
    run = cli("holder-key", "-o", "holder.pem")
    assert run.code == 0
    pem = cli.folder / "holder.pem"
    assert mode(pem) == 0o600
    assert pem.read_text(encoding="ascii").startswith("-----BEGIN PRIVATE KEY-----")
    jwk = run.json()
    assert "d" not in jwk and (jwk["kty"], jwk["crv"]) == ("EC", "P-256")


def test_issuer_add_refuses_unknown_types_and_bad_slugs(cli: Cli) -> None:
    unknown = cli("issuer", "add", "x", "--zh", "甲", "--en", "X", "--vct", "urn:ecert:unicorn")
    assert unknown.code == 1 and "unicorn" in unknown.err
    bad = cli("issuer", "add", "Bad Slug", "--zh", "甲", "--en", "X", "--vct", ID_CARD)
    assert bad.code == 1 and "slug" in bad.err


# -- issue -----------------------------------------------------------------------------------------


def test_issue_writes_a_private_credential_file(cli: Cli, ready: Setup) -> None:
    assert mode(ready.credential) == 0o600
    held = HeldCredential.parse(ready.credential.read_text(encoding="utf-8").strip())
    assert held.vct == ID_CARD
    assert held.iss == "https://ecert.example/issuers/police"
    assert set(held.disclosures) == set(ID_CLAIMS)
    assert len(b64url_decode(ready.credential_id)) == 16


def test_issue_to_stdout_and_to_a_holder_jwk(cli: Cli, ready: Setup) -> None:
    jwk = cli("holder-key", "-o", "other.pem").out
    (cli.folder / "other.jwk").write_text(jwk, encoding="utf-8")
    run = cli(
        "issue", "police", ID_CARD, "--claims", ready.claims, "--holder-jwk", "other.jwk",
        "--subject", "citizen-2",
    )  # fmt: skip
    assert run.code == 0, run.err
    held = HeldCredential.parse(run.out.strip())
    assert held.holder_kid == json.loads(jwk)["kid"]
    assert credential_id(run.err) != ready.credential_id


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", 2),
        ("[1, 2]", 2),
        (json.dumps({**ID_CLAIMS, "birth_date": "1985-13-40"}), 1),
        (json.dumps({k: v for k, v in ID_CLAIMS.items() if k != "name"}), 1),
    ],
    ids=["not-json", "not-an-object", "bad-date", "missing-name"],
)
def test_issue_refuses_bad_claims_files(
    cli: Cli, ready: Setup, content: str, expected: int
) -> None:
    bad = cli.folder / "bad.json"
    bad.write_text(content, encoding="utf-8")
    run = cli(
        "issue", "police", ID_CARD, "--claims", bad, "--holder", ready.holder, "--subject", "c",
    )  # fmt: skip
    assert run.code == expected, run.err
    assert run.out == ""
    if expected == 1:
        assert "claims_invalid" in run.err
        assert "1985-13-40" not in run.err


@pytest.mark.parametrize(
    ("issuer", "vct", "code_word"),
    [
        ("nobody", ID_CARD, "unknown_issuer"),
        ("police", "urn:ecert:marriage-certificate", "issuer_not_authorised"),
    ],
    ids=["unknown-issuer", "type-not-allowed"],
)
def test_issue_refusals_exit_1(
    cli: Cli, ready: Setup, issuer: str, vct: str, code_word: str
) -> None:
    run = cli(
        "issue", issuer, vct, "--claims", ready.claims, "--holder", ready.holder,
        "--subject", "c",
    )  # fmt: skip
    assert run.code == 1
    assert code_word in run.err


def test_issue_with_a_missing_holder_key_file_exits_2(cli: Cli, ready: Setup) -> None:
    run = cli(
        "issue", "police", ID_CARD, "--claims", ready.claims, "--holder", "missing.pem",
        "--subject", "c",
    )  # fmt: skip
    assert run.code == 2 and "holder key" in run.err


# -- present and verify ----------------------------------------------------------------------------


def test_present_then_verify_text(cli: Cli, ready: Setup) -> None:
    text = present(cli, ready)
    run = cli("verify", text, *ready.verify_args(), "--scene", "hotel")
    assert run.code == 0, run.out + run.err
    result = run.json()
    assert set(result) == {
        "valid",
        "vct",
        "iss",
        "scene",
        "status",
        "claims",
        "errors",
        "checked_at",
    }
    assert result["valid"] is True and result["errors"] == []
    assert result["claims"] == {"name": ID_CLAIMS["name"], "id_number": ID_CLAIMS["id_number"]}
    assert result["status"] == "valid" and result["vct"] == ID_CARD
    assert abs(result["checked_at"] - time.time()) < 60


def test_verify_takes_the_scene_from_the_presentation(cli: Cli, ready: Setup) -> None:
    text = present(cli, ready, scene="bank")
    run = cli("verify", text, *ready.verify_args())
    assert run.code == 0, run.out
    assert run.json()["scene"] == "bank"


def test_verify_reads_standard_input(cli: Cli, ready: Setup) -> None:
    text = present(cli, ready)
    run = cli("verify", "-", *ready.verify_args(), "--scene", "hotel", stdin=text + "\n")
    assert run.code == 0, run.out + run.err
    assert run.json()["valid"] is True


def test_verify_reads_a_qr_image(cli: Cli, ready: Setup) -> None:
    (cli.folder / "pres.txt").write_text(present(cli, ready), encoding="utf-8")
    qr = cli("qr", "--file", "pres.txt", "-o", "x.png")
    assert qr.code == 0, qr.err
    assert "QR version" in qr.err
    run = cli("verify", "--image", "x.png", *ready.verify_args(), "--scene", "hotel")
    assert run.code == 0, run.out + run.err
    assert run.json()["claims"]["name"] == ID_CLAIMS["name"]


def test_qr_writes_svg_too(cli: Cli, ready: Setup) -> None:
    run = cli("qr", "https://ecert.example/p/abc", "-o", "x.svg")
    assert run.code == 0
    assert b"<svg" in (cli.folder / "x.svg").read_bytes()
    assert cli("qr", "text", "-o", "x.gif").code == 2


def test_now_rechecks_a_presentation_at_another_time(cli: Cli, ready: Setup) -> None:
    text = present(cli, ready)
    kb = json.loads(b64url_decode(text.rsplit("~", 1)[1].split(".")[1]))
    at_its_time = cli("verify", text, *ready.verify_args(), "--now", str(kb["iat"] + 5))
    assert at_its_time.code == 0, at_its_time.out
    assert at_its_time.json()["checked_at"] == kb["iat"] + 5
    later = cli("verify", text, *ready.verify_args(), "--now", str(kb["iat"] + 3600))
    assert later.code == 1
    assert [e["code"] for e in later.json()["errors"]] == ["presentation_expired"]
    assert later.json()["claims"] == {}


def test_garbage_text_is_reported_malformed_with_exit_1(cli: Cli, ready: Setup) -> None:
    run = cli("verify", "hello", *ready.verify_args(), "--scene", "hotel")
    assert run.code == 1
    assert run.json()["errors"][0]["code"] == "malformed"


# -- revocation and suspension ---------------------------------------------------------------------


def test_revoke_makes_verification_fail_with_exit_1(cli: Cli, ready: Setup) -> None:
    assert cli("revoke", "police", "--", ready.credential_id).code == 0
    assert cli("bundle", "export", "-o", "after.json").code == 0
    text = present(cli, ready)
    run = cli("verify", text, *ready.verify_args(cli.folder / "after.json"))
    assert run.code == 1
    result = run.json()
    assert result["valid"] is False and result["status"] == "revoked"
    assert [e["code"] for e in result["errors"]] == ["revoked"]
    assert result["claims"] == {}
    # the old bundle does not know yet
    assert cli("verify", present(cli, ready), *ready.verify_args()).code == 0


def test_suspend_and_reinstate(cli: Cli, ready: Setup) -> None:
    assert cli("suspend", "police", "--", ready.credential_id).code == 0
    cli("bundle", "export", "-o", "b2.json")
    run = cli("verify", present(cli, ready), *ready.verify_args(cli.folder / "b2.json"))
    assert run.code == 1 and run.json()["status"] == "suspended"
    assert cli("reinstate", "police", "--", ready.credential_id).code == 0
    cli("bundle", "export", "-o", "b3.json")
    assert cli("verify", present(cli, ready), *ready.verify_args(cli.folder / "b3.json")).code == 0


@pytest.mark.parametrize(
    "args",
    [
        ["revoke", "police", "-5bpMAZXJ4p4FutnvWGfVQ"],
        ["suspend", "police", "-5bpMAZXJ4p4FutnvWGfVQ"],
        ["keys", "compromise", "-" + "A" * 42],
    ],
    ids=["revoke", "suspend", "keys-compromise"],
)
def test_ids_starting_with_a_dash_are_taken_as_ids(cli: Cli, ready: Setup, args: list[str]) -> None:
    run = cli(*args)
    assert "usage:" not in run.err
    assert run.code == 1  # unknown credential / unknown kid: a domain answer, not bad usage


def test_revocation_is_final(cli: Cli, ready: Setup) -> None:
    assert cli("revoke", "police", "--", ready.credential_id).code == 0
    run = cli("reinstate", "police", "--", ready.credential_id)
    assert run.code == 1 and "invalid_transition" in run.err
    assert cli("revoke", "police", "no-such-id").code == 1


# -- bad usage: exit 2 -----------------------------------------------------------------------------


def test_missing_bundle_file_exits_2(cli: Cli, ready: Setup) -> None:
    run = cli("verify", present(cli, ready), "--bundle", "nope.json", "--anchor", ready.anchor)
    assert run.code == 2
    assert "bundle" in run.err and run.out == ""


def test_missing_anchor_file_exits_2(cli: Cli, ready: Setup) -> None:
    run = cli("verify", present(cli, ready), "--bundle", ready.bundle, "--anchor", "nope.json")
    assert run.code == 2


def test_another_anchor_exits_2(cli: Cli, ready: Setup) -> None:
    other = cli.folder / "other-anchor.json"
    other.write_text(cli("holder-key", "-o", "k.pem").out, encoding="utf-8")
    run = cli("verify", present(cli, ready), "--bundle", ready.bundle, "--anchor", other)
    assert run.code == 2 and "anchor" in run.err


def test_unknown_scene_exits_2(cli: Cli, ready: Setup) -> None:
    run = cli("verify", present(cli, ready), *ready.verify_args(), "--scene", "casino")
    assert run.code == 2
    assert "casino" in run.err and "hotel" in run.err  # names the known scenes
    assert cli("present", ready.credential, "--holder", ready.holder, "--scene", "casino",
               *ready.verify_args()).code == 2  # fmt: skip


def test_text_and_image_together_exit_2(cli: Cli, ready: Setup) -> None:
    cli("qr", "hello", "-o", "x.png")
    run = cli("verify", "hello", "--image", "x.png", *ready.verify_args(), "--scene", "hotel")
    assert run.code == 2 and "either" in run.err


@pytest.mark.parametrize(
    "content",
    [None, b"this is text, not a picture", b"\x89PNG\r\n\x1a\n"],
    ids=["missing-file", "not-an-image", "truncated-png"],
)
def test_unreadable_image_exits_2(cli: Cli, ready: Setup, content: bytes | None) -> None:
    if content is not None:
        (cli.folder / "x.png").write_bytes(content)
    run = cli("verify", "--image", "x.png", *ready.verify_args(), "--scene", "hotel")
    assert run.code == 2
    assert run.out == "" and run.err.startswith("ecert: ")


def test_an_image_without_a_qr_code_exits_2(cli: Cli, ready: Setup) -> None:
    from PIL import Image

    Image.new("L", (200, 200), 255).save(cli.folder / "white.png")
    run = cli("verify", "--image", "white.png", *ready.verify_args(), "--scene", "hotel")
    assert run.code == 2 and "QR" in run.err


def test_garbage_without_scene_exits_2(cli: Cli, ready: Setup) -> None:
    run = cli("verify", "hello", *ready.verify_args())
    assert run.code == 2 and "--scene" in run.err


@pytest.mark.parametrize(
    "args",
    [[], ["frobnicate"], ["verify"], ["keys"], ["issue", "police"]],
    ids=["nothing", "unknown-command", "verify-without-bundle", "keys-without-action", "issue"],
)
def test_argument_errors_exit_2(cli: Cli, args: list[str]) -> None:
    run = cli(*args)
    assert run.code == 2
    assert "usage:" in run.err


def test_help_exits_0(cli: Cli) -> None:
    assert cli("--help").code == 0
    assert cli("verify", "--help").code == 0


# -- keys: rotation and compromise -----------------------------------------------------------------


def _trusted(cli: Cli, s: Setup, bundle: str) -> Any:
    data = json.loads((cli.folder / bundle).read_text(encoding="utf-8"))
    anchor = json.loads(s.anchor.read_text(encoding="utf-8"))
    return verify_trust_list(data["trust_list"], anchor).issuers[
        "https://ecert.example/issuers/police"
    ]


def _states(cli: Cli) -> dict[str, str]:
    return {k["kid"]: k["state"] for k in cli("keys", "list", "--owner", "police").json()}


def test_rotate_activate_compromise(cli: Cli, ready: Setup) -> None:
    (old,) = _states(cli)
    old_presentation = present(cli, ready)

    rotated = cli("keys", "rotate", "police")
    assert rotated.code == 0
    new = rotated.out.strip()
    assert _states(cli) == {old: "active", new: "pending"}
    cli("bundle", "export", "-o", "b1.json")
    assert {old, new} <= set(_trusted(cli, ready, "b1.json").keys)

    assert cli("keys", "activate", "--", new).code == 0
    assert _states(cli) == {old: "retired", new: "active"}
    issued = cli(
        "issue", "police", ID_CARD, "--claims", ready.claims, "--holder", ready.holder,
        "--subject", "citizen-1",
    )  # fmt: skip
    header = json.loads(b64url_decode(issued.out.split(".", 1)[0]))
    assert header["kid"] == new

    assert cli("keys", "compromise", "--", old).code == 0
    assert _states(cli) == {old: "compromised", new: "active"}
    cli("bundle", "export", "-o", "b2.json")
    trusted = _trusted(cli, ready, "b2.json")
    assert old in trusted.revoked_kids
    assert old not in trusted.keys and new in trusted.keys

    run = cli("verify", old_presentation, *ready.verify_args(cli.folder / "b2.json"))
    assert run.code == 1
    assert [e["code"] for e in run.json()["errors"]] == ["key_compromised"]


def test_compromising_the_only_key_is_published_at_once(cli: Cli, ready: Setup) -> None:
    """The old spelling ``keys compromise KID`` (deprecated) does what ``keys compromise
    ISSUER KID`` does: the key is revoked at once and a new one signs from now on."""
    (only,) = _states(cli)
    text = present(cli, ready)
    run = cli("keys", "compromise", "--", only)
    assert run.code == 0
    assert "deprecated" in run.err and "ecert keys compromise ISSUER KID" in run.err
    run = cli("bundle", "export", "-o", "urgent.json")
    assert run.code == 0, run.err
    assert only in _trusted(cli, ready, "urgent.json").revoked_kids
    verified = cli("verify", text, *ready.verify_args(cli.folder / "urgent.json"))
    assert verified.code == 1
    assert verified.json()["errors"][0]["code"] == "key_compromised"
    (new,) = [kid for kid, state in _states(cli).items() if state == "active"]
    assert new != only and _states(cli)[only] == "compromised"
    issued = cli(
        "issue", "police", ID_CARD, "--claims", ready.claims, "--holder", ready.holder,
        "--subject", "c",
    )  # fmt: skip
    assert issued.code == 0, issued.err
    assert json.loads(b64url_decode(issued.out.split(".", 1)[0]))["kid"] == new


def test_retire_and_forbidden_transitions(cli: Cli, ready: Setup) -> None:
    new = cli("keys", "rotate", "police", "--alg", "EdDSA").out.strip()
    assert cli("keys", "retire", "--", new).code == 0
    run = cli("keys", "activate", "--", new)
    assert run.code == 2 and "key_state" in run.err
    assert cli("keys", "compromise", "--", new).code == 0
    assert cli("keys", "activate", "--", new).code == 2
    assert cli("keys", "activate", "no-such-kid").code == 1
    assert cli("keys", "rotate", "nobody").code == 1


def test_keys_list_shows_public_parts_only(cli: Cli, ready: Setup) -> None:
    keys = cli("keys", "list").json()
    assert {k["owner"] for k in keys} == {"anchor", "https://ecert.example/issuers/police"}
    for key in keys:
        assert set(key) == {
            "kid", "owner", "alg", "state", "created_at", "activate_at", "retired_at",
            "verify_until",
        }  # fmt: skip


def test_rotate_with_a_lead_and_compromise_by_issuer_and_kid(cli: Cli, ready: Setup) -> None:
    (old,) = _states(cli)
    short = cli("keys", "rotate", "police", "--lead", "60")
    assert short.code == 2 and "key_lead_too_short" in short.err
    assert _states(cli) == {old: "active"}
    assert cli("keys", "rotate", "anchor", "--lead", "60").code == 2
    forced = cli("keys", "rotate", "police", "--lead", "60", "--force")
    assert forced.code == 0, forced.err
    new = forced.out.strip()
    assert "becomes active at 20" in forced.err
    (listed,) = [k for k in cli("keys", "list", "--owner", "police").json() if k["kid"] == new]
    assert listed["state"] == "pending" and listed["activate_at"] >= listed["created_at"] + 60

    # The issuer named must own the key; nothing changes otherwise.
    cli("admin", "department", "add", "health", "--zh", "卫健委", "--en", "Health",
        "--vct", RESIDENCE_PERMIT)  # fmt: skip
    wrong = cli("keys", "compromise", "health", "--", old)
    assert wrong.code == 2 and "not a key of health" in wrong.err
    assert _states(cli)[old] == "active"

    text = present(cli, ready)
    run = cli("keys", "compromise", "police", old)
    assert run.code == 0, run.err
    assert "deprecated" not in run.err
    # The pending key, already published, replaces the compromised one at once.
    assert _states(cli) == {old: "compromised", new: "active"}
    cli("bundle", "export", "-o", "after.json")
    verified = cli("verify", text, *ready.verify_args(cli.folder / "after.json"))
    assert verified.json()["errors"][0]["code"] == "key_compromised"


def test_rotating_the_anchor_needs_verifiers_to_pin_the_new_one(cli: Cli, ready: Setup) -> None:
    new = cli("keys", "rotate", "anchor").out.strip()
    assert cli("keys", "activate", "--", new).code == 0
    assert cli("keys", "anchor", "-o", "anchor2.json").json()["kid"] == new
    cli("bundle", "export", "-o", "b-new.json")
    text = present(cli, ready)
    assert cli("verify", text, *ready.verify_args(cli.folder / "b-new.json")).code == 2
    run = cli("verify", text, "--bundle", "b-new.json", "--anchor", "anchor2.json")
    assert run.code == 0, run.out + run.err


# -- bundle pull -----------------------------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def web(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, str]]:
    """A static web server on 127.0.0.1 (ephemeral port); yields (folder, base URL)."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield root, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_bundle_pull_checks_and_saves(cli: Cli, ready: Setup, web: tuple[Path, str]) -> None:
    root, url = web
    (root / "bundle.json").write_bytes(ready.bundle.read_bytes())
    run = cli("bundle", "pull", f"{url}/bundle.json", "-o", "pulled.json", "--anchor", ready.anchor)
    assert run.code == 0, run.err
    assert "checked" in run.err and "1 status lists" in run.err
    assert json.loads((cli.folder / "pulled.json").read_text()) == json.loads(
        ready.bundle.read_text()
    )
    verified = cli(
        "verify", present(cli, ready), "--bundle", "pulled.json", "--anchor", ready.anchor
    )
    assert verified.code == 0


def _tamper_trust_list(bundle: dict[str, Any]) -> dict[str, Any]:
    h64, p64, s64 = bundle["trust_list"].split(".")
    payload = json.loads(b64url_decode(p64))
    payload["issuers"][0]["vcts"].append("urn:ecert:passport")
    p64 = b64url_encode(json.dumps(payload).encode())
    return {**bundle, "trust_list": f"{h64}.{p64}.{s64}"}


def test_bundle_pull_refuses_a_tampered_trust_list(
    cli: Cli, ready: Setup, web: tuple[Path, str]
) -> None:
    root, url = web
    bundle = json.loads(ready.bundle.read_text(encoding="utf-8"))
    (root / "bundle.json").write_text(json.dumps(_tamper_trust_list(bundle)), encoding="utf-8")
    run = cli("bundle", "pull", f"{url}/bundle.json", "-o", "pulled.json", "--anchor", ready.anchor)
    assert run.code in (1, 2)
    assert "bundle_invalid" in run.err and "signature" in run.err
    assert not (cli.folder / "pulled.json").exists()


def test_bundle_pull_warns_about_a_tampered_status_list(
    cli: Cli, ready: Setup, web: tuple[Path, str]
) -> None:
    root, url = web
    bundle = json.loads(ready.bundle.read_text(encoding="utf-8"))
    h64, _, s64 = bundle["status_lists"][0].split(".")
    forged = b64url_encode(b'{"iss":"x","sub":"y"}')
    bundle["status_lists"][0] = f"{h64}.{forged}.{s64}"
    (root / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")
    run = cli("bundle", "pull", f"{url}/bundle.json", "-o", "pulled.json", "--anchor", ready.anchor)
    assert run.code == 0
    assert "warning: status list #0 rejected" in run.err and "0 status lists" in run.err
    # a credential whose list was dropped is never reported valid
    verified = cli(
        "verify", present(cli, ready), "--bundle", "pulled.json", "--anchor", ready.anchor
    )
    assert verified.code == 1
    assert verified.json()["status"] == "unavailable"


@pytest.mark.parametrize(
    ("path", "body"),
    [("missing.json", None), ("bundle.json", "<html>not json</html>")],
    ids=["404", "not-json"],
)
def test_bundle_pull_unreadable_downloads_exit_2(
    cli: Cli, ready: Setup, web: tuple[Path, str], path: str, body: str | None
) -> None:
    root, url = web
    if body is not None:
        (root / path).write_text(body, encoding="utf-8")
    run = cli("bundle", "pull", f"{url}/{path}", "-o", "pulled.json", "--anchor", ready.anchor)
    assert run.code == 2
    assert run.err.startswith("ecert: ")
    assert not (cli.folder / "pulled.json").exists()


@pytest.mark.parametrize(
    "url", ["ftp://127.0.0.1/bundle.json", "file:///etc/passwd", "bundle.json"]
)
def test_bundle_pull_needs_http(cli: Cli, ready: Setup, url: str) -> None:
    run = cli("bundle", "pull", url, "-o", "pulled.json", "--anchor", ready.anchor)
    assert run.code == 2 and "http" in run.err


def test_bundle_pull_with_another_anchor_exits_nonzero(
    cli: Cli, ready: Setup, web: tuple[Path, str]
) -> None:
    root, url = web
    (root / "bundle.json").write_bytes(ready.bundle.read_bytes())
    other = cli.folder / "other.json"
    other.write_text(cli("holder-key", "-o", "k.pem").out, encoding="utf-8")
    run = cli("bundle", "pull", f"{url}/bundle.json", "-o", "pulled.json", "--anchor", other)
    assert run.code in (1, 2) and "anchor" in run.err


# -- the key secret --------------------------------------------------------------------------------


def test_the_secret_never_appears_in_any_output(cli: Cli, ready: Setup) -> None:
    secret = cli.secret()
    assert mode(cli.instance / "secret.key") == 0o600
    text = present(cli, ready)
    cli("verify", text, *ready.verify_args())
    cli("keys", "list")
    cli("keys", "rotate", "police")
    cli("issuer", "list")
    cli("types", "--json")
    cli("verify", "--image", "missing.png", *ready.verify_args())
    cli("revoke", "police", "unknown")
    raw = b64url_decode(secret)
    forms = {secret, raw.hex(), base64.b64encode(raw).decode(), secret[:16]}
    everything = "\n".join(cli.outputs)
    for form in forms:
        assert form not in everything
    for path in cli.folder.glob("*.json"):
        assert secret not in path.read_text(encoding="utf-8")


def test_a_wrong_secret_exits_2_without_echoing_it(
    cli: Cli, ready: Setup, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = b64url_encode(bytes(range(32)))
    monkeypatch.setenv("ECERT_KEY_SECRET", wrong)
    run = cli(
        "issue", "police", ID_CARD, "--claims", ready.claims, "--holder", ready.holder,
        "--subject", "c",
    )  # fmt: skip
    assert run.code == 2
    assert "key_unwrap_failed" in run.err
    assert wrong not in run.err and cli.secret() not in run.err


def test_a_malformed_secret_exits_2_without_echoing_it(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECERT_KEY_SECRET", "tooShortSecretValue")
    run = cli("init")
    assert run.code == 2
    assert "tooShortSecretValue" not in run.err + run.out
    assert not (cli.instance / "secret.key").exists()  # the configured secret is used


# -- the Redis backend -----------------------------------------------------------------------------


@pytest.mark.redis
def test_the_whole_story_on_redis(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, redis_server: str, redis_store: Any
) -> None:
    monkeypatch.setenv("ECERT_REDIS_URL", redis_server)
    s = set_up(cli)
    assert not (cli.instance / "ecert.db").exists()
    assert redis_store.list_issuers()[0].slug == "police"
    assert cli("revoke", "police", "--", s.credential_id).code == 0
    cli("bundle", "export", "-o", "after.json")
    text = present(cli, s)
    assert cli("verify", text, *s.verify_args()).code == 0
    run = cli("verify", text, *s.verify_args(cli.folder / "after.json"))
    assert run.code == 1 and run.json()["status"] == "revoked"


# -- the installed console script ------------------------------------------------------------------


def _json_documents(text: str) -> list[Any]:
    decoder = json.JSONDecoder()
    docs, pos = [], 0
    while pos < len(text):
        if text[pos].isspace():
            pos += 1
            continue
        doc, pos = decoder.raw_decode(text, pos)
        docs.append(doc)
    return docs


def test_console_script_demo(tmp_path: Path, cli: Cli) -> None:
    script = Path(sys.executable).parent / "ecert"
    assert script.exists(), script
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECERT_")}
    out = tmp_path / "demo"
    proc = subprocess.run(
        [str(script), "demo", "-o", str(out)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    SESSION_LOGS.add_text("ecert demo (subprocess) stderr", proc.stderr)
    assert proc.returncode == 0, proc.stderr
    valid, revoked = _json_documents(proc.stdout)
    assert valid["valid"] is True and valid["scene"] == "hotel"
    assert valid["claims"] == {"name": "张三", "id_number": "110101199003070011"}
    assert revoked["valid"] is False
    assert [e["code"] for e in revoked["errors"]] == ["revoked"]
    assert mode(out / "holder-key.pem") == 0o600
    secret = (out / "instance" / "secret.key").read_text(encoding="ascii").strip()
    assert secret not in proc.stdout + proc.stderr
    # the files it leaves behind verify by hand, as it says
    run = cli(
        "verify", "--image", out / "hotel-qr.png", "--bundle", out / "bundle.json",
        "--anchor", out / "anchor.json", "--scene", "hotel",
    )  # fmt: skip
    assert run.code == 0, run.out + run.err
    after = cli(
        "verify", "--image", out / "hotel-qr.png", "--bundle",
        out / "bundle-after-revocation.json", "--anchor", out / "anchor.json",
    )  # fmt: skip
    assert after.code == 1


def test_demo_refuses_a_folder_it_did_not_create(cli: Cli) -> None:
    (cli.folder / "precious").mkdir()
    (cli.folder / "precious" / "thesis.txt").write_text("do not delete", encoding="utf-8")
    run = cli("demo", "-o", "precious")
    assert run.code == 2  # bad usage, and nothing deleted
    assert "not made by `ecert demo`" in run.err
    assert (cli.folder / "precious" / "thesis.txt").exists()


def test_bundle_pull_refuses_to_roll_back_to_an_older_bundle(
    cli: Cli, ready: Setup, web: tuple[Path, str]
) -> None:
    root, url = web
    older = ready.bundle.read_bytes()
    time.sleep(1.1)  # trust lists carry whole seconds
    assert cli("bundle", "export", "-o", "newer.json").code == 0
    (root / "bundle.json").write_bytes((cli.folder / "newer.json").read_bytes())
    args = ("bundle", "pull", f"{url}/bundle.json", "-o", "pulled.json", "--anchor", ready.anchor)
    assert cli(*args).code == 0
    (root / "bundle.json").write_bytes(older)  # a replayed, validly signed old bundle

    run = cli(*args)

    assert run.code == 2 and "older" in run.err
    assert json.loads((cli.folder / "pulled.json").read_bytes()) == json.loads(
        (cli.folder / "newer.json").read_bytes()
    )
    assert cli(*args, "--allow-older").code == 0


def test_a_missing_secret_next_to_existing_keys_is_refused_not_replaced(
    cli: Cli, ready: Setup
) -> None:
    secret = cli.folder / "instance" / "secret.key"
    secret.unlink()

    run = cli("bundle", "export", "-o", "x.json")

    assert run.code == 2 and "restore" in run.err
    assert not secret.exists()


def test_a_replay_db_catches_the_same_qr_in_a_later_run(cli: Cli, ready: Setup) -> None:
    text = present(cli, ready)
    args = (*ready.verify_args(ready.bundle), "--replay-db", str(cli.folder / "seen.db"))
    assert cli("verify", text, *args).code == 0
    again = cli("verify", text, *args)
    assert again.code == 1 and again.json()["errors"][0]["code"] == "replayed"
    assert cli("verify", text, *ready.verify_args(ready.bundle)).code == 0  # no db: no memory
