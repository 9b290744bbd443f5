"""Hostile JSON gets a clean refusal, never a stack trace (issue 7 §2).

- :mod:`keys.jsonstrict`, the one reader: depth (64), size, duplicate members,
  ``NaN``/``Infinity``/``1e400``, lone surrogates, invalid UTF-8;
- the service: a hostile body answers ``400 invalid_request`` problem JSON on every
  route of the URL map, authenticated or not, with no 500 and no traceback logged;
- bundle files and downloads: :class:`~verifier.errors.BundleInvalid` from the library,
  exit 2 and one line on stderr from ``ecert verify`` and ``ecert bundle pull``;
- output: ``ecert verify`` prints on a standard output that cannot encode the claims.

Every hostile input is written here as raw bytes or text.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import given, settings
from hypothesis import strategies as st

from keys import FormatError
from keys.jsonstrict import MAX_BYTES, MAX_DEPTH, InvalidUnicode, loads, loads_object
from tests.api_helpers import AuthActions, api_app, auth, client, demo
from tests.factory import World
from tests.hygiene import SESSION_LOGS
from tests.test_cli import Cli, Setup, cli, present, ready, web
from verifier import BundleInvalid, Verifier

__all__ = ["api_app", "auth", "cli", "client", "demo", "ready", "web"]


def nested(depth: int, inner: str = "1") -> str:
    return "[" * depth + inner + "]" * depth


#: Hostile JSON texts (bytes), each refused by the strict reader.
HOSTILE: dict[str, bytes] = {
    "1000-open-brackets": b"[" * 1000,
    "1000-levels-balanced": nested(1000).encode(),
    "65-levels": nested(MAX_DEPTH + 1).encode(),
    "65-levels-of-objects": (b'{"a":' * 65) + b"1" + (b"}" * 65),
    "deep-inside-an-object": b'{"citizen_id":"a","password":"b","x":' + nested(200).encode() + b"}",
    "duplicate-member": b'{"citizen_id":"a","password":"b","citizen_id":"c"}',
    "NaN": b'{"citizen_id":"a","password":"b","x":NaN}',
    "Infinity": b'{"x":-Infinity}',
    "overflowing-number": b'{"citizen_id":"a","password":"b","x":1e400}',
    "lone-surrogate": b'{"citizen_id":"\\ud800","password":"b"}',
    "lone-surrogate-in-member-name": b'{"\\uDC00":"a"}',
    "invalid-utf8": b'{"citizen_id":"\xff","password":"b"}',
    "utf8-encoded-surrogate": b'{"citizen_id":"\xed\xa0\x80"}',
    "truncated": b'{"citizen_id": ',
    "trailing-garbage": b'{"citizen_id":"a"} x',
    "utf8-bom": b'\xef\xbb\xbf{"citizen_id":"a"}',
}


# -- the reader ---------------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE.values(), ids=HOSTILE.keys())
def test_reader_refuses_hostile_json(text: bytes) -> None:
    with pytest.raises(FormatError) as caught:
        loads(text)
    assert caught.value.code == "malformed"
    with pytest.raises(FormatError):  # the same as text
        loads(text.decode("utf-8", "surrogateescape"))


def test_reader_depth_limit_is_64_levels_of_arrays_and_objects() -> None:
    assert loads(nested(MAX_DEPTH)) is not None
    assert loads('{"a":' * MAX_DEPTH + "1" + "}" * MAX_DEPTH) is not None
    with pytest.raises(FormatError, match="deeper than 64"):
        loads(nested(MAX_DEPTH + 1))
    with pytest.raises(FormatError, match="deeper than 64"):
        loads("[" * 40 + '{"a":' * 25 + "1" + "}" * 25 + "]" * 40)
    with pytest.raises(FormatError, match="deeper than 64"):
        loads(b"[" * 100_000)


def test_reader_does_not_count_brackets_inside_strings() -> None:
    text = json.dumps({"a": "[" * 500 + "{" * 500, "b": ['x\\"[[[[', "]]]"] * 40})
    assert loads(text)["a"] == "[" * 500 + "{" * 500
    wide = json.dumps([[i] for i in range(1000)])  # many brackets, two levels
    assert len(loads(wide)) == 1000


def test_reader_refuses_more_than_max_bytes() -> None:
    big = json.dumps({"a": "x" * MAX_BYTES})
    with pytest.raises(FormatError, match="too large"):
        loads(big)
    with pytest.raises(FormatError, match="too large"):
        loads(b"[1, 2]", max_bytes=5)
    assert loads(big, max_bytes=2 * MAX_BYTES)["a"] == "x" * MAX_BYTES


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('"\\ud83d\\ude00"', "\U0001f600"),
        ('"\\uD83D\\uDE00"', "\U0001f600"),
        ('"\\\\ud800"', "\\ud800"),
        ('{"\\u00e9":"\\u5f20"}', {"é": "张"}),
        ("1.5", 1.5),
        ("1e308", 1e308),
        ("18446744073709551616", 18446744073709551616),  # a number; dates check range
    ],
)
def test_reader_accepts_valid_text(text: str, value: Any) -> None:
    assert loads(text) == value
    assert loads(text.encode("utf-8")) == value


@pytest.mark.parametrize(
    "text",
    [b'"\\ud800"', b'"\\uDBFF x"', b'"\\udc00\\ud800"', b'["ok", {"k": ["\\udfff"]}]', b'"\xff"'],
)
def test_reader_reports_text_that_is_not_unicode_as_invalid_unicode(text: bytes) -> None:
    with pytest.raises(InvalidUnicode):
        loads(text)


def test_reader_refuses_a_str_holding_a_raw_surrogate() -> None:
    with pytest.raises(InvalidUnicode):
        loads('"a\ud800"')


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=30,
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(value=_json, ascii_only=st.booleans())
def test_reader_reads_what_json_writes(value: Any, ascii_only: bool) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert loads(text) == json.loads(text)
    assert loads(text.encode("utf-8")) == json.loads(text)


@settings(max_examples=100, deadline=None)
@given(depth=st.integers(min_value=1, max_value=3 * MAX_DEPTH), filler=st.sampled_from("[{"))
def test_reader_depth_check_agrees_with_the_real_depth(depth: int, filler: str) -> None:
    text = ('{"k":' * depth + "0" + "}" * depth) if filler == "{" else nested(depth)
    if depth <= MAX_DEPTH:
        assert loads(text) is not None
    else:
        with pytest.raises(FormatError, match="deeper"):
            loads(text)


def test_loads_object_refuses_other_values() -> None:
    with pytest.raises(FormatError, match="not an object"):
        loads_object(b"[]")


# -- the service: every route -----------------------------------------------------------


def _routes(app: Flask) -> list[tuple[str, str]]:
    adapter = app.url_map.bind("ecert.test")
    out = []
    for rule in app.url_map.iter_rules():
        values = {arg: 1 if arg == "n" else "x" for arg in rule.arguments}
        url = adapter.build(rule.endpoint, values)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out.append((method, url))
    return out


def _who(auth: AuthActions) -> dict[str, dict[str, str]]:
    return {
        "anonymous": {},
        "citizen": auth.citizen(),
        "department": auth.department(),
        "venue": auth.venue(),
        "bad-token": {"Authorization": "Bearer not-a-key"},
    }


def _no_trace(records: list[logging.LogRecord]) -> None:
    for record in records:
        assert record.exc_info is None, record.getMessage()
        assert record.levelno < logging.ERROR, record.getMessage()
        assert "Traceback" not in record.getMessage()
        assert "RecursionError" not in record.getMessage()


def test_every_route_refuses_hostile_json_bodies(
    api_app: Flask, client: FlaskClient, auth: AuthActions, caplog: pytest.LogCaptureFixture
) -> None:
    routes = _routes(api_app)
    assert len(routes) >= 25  # the whole URL map, not a sample
    who = _who(auth)
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    requests = 0
    for method, url in routes:
        for name, headers in who.items():
            for case, body in HOSTILE.items():
                response = client.open(
                    url, method=method, data=body, headers=headers, content_type="application/json"
                )
                requests += 1
                where = f"{method} {url} as {name} with {case}"
                assert response.status_code == 400, where
                assert response.mimetype == "application/problem+json", where
                problem = json.loads(response.get_data())
                assert problem["code"] == "invalid_request", where
                assert problem["detail"] == "The body is not valid JSON.", where
                assert [e["code"] for e in problem["errors"]] == ["json_invalid"], where
                assert problem["errors"][0]["in"] == "body", where
    _no_trace(caplog.records)
    # one request line each, nothing else (today: ~28 lines of traceback for one request)
    assert len(caplog.records) == requests


def test_hostile_bodies_refused_whatever_the_json_media_type(client: FlaskClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/problem+json"):
        response = client.post(
            "/api/v1/auth/login", data=HOSTILE["1000-open-brackets"], content_type=content_type
        )
        assert response.status_code == 400
        assert response.get_json()["errors"][0]["code"] == "json_invalid"


def test_a_bare_json_string_body_is_refused(client: FlaskClient) -> None:
    # flask-openapi3 would parse a string body's content again, with pydantic's parser.
    body = json.dumps(json.dumps({"citizen_id": "a", "password": "b", "citizen_id ": "c"}))
    response = client.post("/api/v1/auth/login", data=body, content_type="application/json")
    assert response.status_code == 400
    assert response.get_json()["errors"][0]["code"] == "json_invalid"


def test_valid_bodies_still_reach_the_views(
    api_app: Flask, client: FlaskClient, auth: AuthActions
) -> None:
    # The control: the same requests with readable JSON are never refused as unreadable.
    headers = _who(auth)["citizen"]
    for method, url in _routes(api_app):
        for body in (b"{}", nested(MAX_DEPTH).encode(), b'{"a":[1,2.5,"\\ud83d\\ude00"]}'):
            response = client.open(
                url, method=method, data=body, headers=headers, content_type="application/json"
            )
            assert response.status_code != 500, (method, url)
            if response.mimetype == "application/problem+json":
                errors = response.get_json().get("errors") or []
                assert "json_invalid" not in [e["code"] for e in errors], (method, url)
    login = auth.demo["citizens"][0]
    text = json.dumps({"citizen_id": login["citizen_id"], "password": login["password"]})
    assert (
        client.post("/api/v1/auth/login", data=text, content_type="application/json").status_code
        == 200
    )


def test_unknown_routes_stay_404_whatever_the_body(client: FlaskClient) -> None:
    response = client.post(
        "/api/v1/nothing-here", data=b"[" * 1000, content_type="application/json"
    )
    assert response.status_code == 404


# -- bundle files ---------------------------------------------------------------------------

#: Bundle files that no verifier can use (as raw bytes).
BAD_BUNDLE_FILES: dict[str, bytes] = {
    **{k: v for k, v in HOSTILE.items()},
    "empty": b"",
    "an-array": b"[]",
    "a-number": b"7",
    "binary": bytes(range(256)),
    "deep-status-lists": b'{"trust_list":"x","status_lists":' + nested(5000).encode() + b"}",
}


@pytest.mark.parametrize("data", BAD_BUNDLE_FILES.values(), ids=BAD_BUNDLE_FILES.keys())
def test_from_bundle_file_raises_bundle_invalid(world: World, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "bundle.json"
    path.write_bytes(data)
    with pytest.raises(BundleInvalid) as caught:
        Verifier.from_bundle_file(path, anchor=world.anchor_jwk)
    assert caught.value.code == "bundle_invalid"


def test_from_bundle_file_refuses_a_file_over_the_limit(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(world.bundle()), encoding="utf-8")
    assert Verifier.from_bundle_file(path, anchor=world.anchor_jwk).trust_list is not None
    monkeypatch.setattr("verifier.bundle.MAX_BUNDLE_BYTES", path.stat().st_size - 1)
    with pytest.raises(BundleInvalid, match="too large"):
        Verifier.from_bundle_file(path, anchor=world.anchor_jwk)


# -- the CLI ----------------------------------------------------------------------------


def _one_clean_line(err: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("ecert: ") and "Traceback" not in err


CLI_CASES = ["1000-open-brackets", "1000-levels-balanced", "duplicate-member", "lone-surrogate",
             "invalid-utf8", "overflowing-number", "truncated"]  # fmt: skip


@pytest.mark.parametrize("case", CLI_CASES)
def test_verify_with_an_unusable_bundle_exits_2(cli: Cli, ready: Setup, case: str) -> None:
    shown = present(cli, ready)
    bad = cli.folder / "bad-bundle.json"
    bad.write_bytes(HOSTILE[case])
    run = cli("verify", shown, "--bundle", bad, "--anchor", ready.anchor)
    assert run.code == 2 and run.out == ""
    _one_clean_line(run.err)
    bad_anchor = cli.folder / "bad-anchor.json"
    bad_anchor.write_bytes(HOSTILE[case])
    run = cli("verify", shown, "--bundle", ready.bundle, "--anchor", bad_anchor)
    assert run.code == 2 and run.out == ""
    _one_clean_line(run.err)


def test_verify_with_a_bundle_of_another_anchor_exits_2(cli: Cli, ready: Setup) -> None:
    bundle = json.loads(ready.bundle.read_text(encoding="utf-8"))
    bundle["trust_list"] = bundle["trust_list"][:-4] + "AAAA"
    bad = cli.folder / "bad-bundle.json"
    bad.write_text(json.dumps(bundle), encoding="utf-8")
    run = cli("verify", present(cli, ready), "--bundle", bad, "--anchor", ready.anchor)
    assert run.code == 2
    _one_clean_line(run.err)


PULL_CASES = {
    **{case: BAD_BUNDLE_FILES[case] for case in CLI_CASES},
    **{case: BAD_BUNDLE_FILES[case] for case in ("an-array", "binary", "deep-status-lists")},
    "no-trust-list": b'{"status_lists": []}',
    "trust-list-not-a-jws": b'{"trust_list": "x.y.z", "status_lists": []}',
}


@pytest.mark.parametrize("case", [*PULL_CASES, "signed-by-another-anchor"])
def test_bundle_pull_of_an_unusable_download_exits_2_and_keeps_the_file(
    cli: Cli, ready: Setup, web: tuple[Path, str], case: str
) -> None:
    root, url = web
    if case == "signed-by-another-anchor":
        bundle = json.loads(ready.bundle.read_text(encoding="utf-8"))
        bundle["trust_list"] = bundle["trust_list"][:-4] + "AAAA"
        data = json.dumps(bundle).encode()
    else:
        data = PULL_CASES[case]
    (root / "bundle.json").write_bytes(data)
    kept = cli.folder / "pulled.json"
    kept.write_bytes(ready.bundle.read_bytes())
    run = cli("bundle", "pull", f"{url}/bundle.json", "-o", kept, "--anchor", ready.anchor)
    assert run.code == 2, run.err
    _one_clean_line(run.err)
    assert kept.read_bytes() == ready.bundle.read_bytes()


def _ecert(args: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    script = Path(sys.executable).parent / "ecert"
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ECERT_", "PYTHONIO", "LC_"))}
    done = subprocess.run(
        [str(script), *map(str, args)],
        capture_output=True,
        cwd=cwd,
        env={**base, "ECERT_INSTANCE": str(cwd / "instance"), **env},
        timeout=60,
        check=False,
    )
    SESSION_LOGS.add_text("ecert (subprocess) stderr", done.stderr.decode("utf-8", "replace"))
    return done


def test_console_script_verify_with_a_deep_bundle_exits_2_without_a_traceback(
    cli: Cli, ready: Setup
) -> None:
    bad = cli.folder / "deep.json"
    bad.write_bytes(HOSTILE["1000-levels-balanced"])
    proc = _ecert(
        ["verify", present(cli, ready), "--bundle", bad, "--anchor", ready.anchor], cli.folder
    )
    assert proc.returncode == 2
    assert proc.stdout == b""
    _one_clean_line(proc.stderr.decode("utf-8"))


@pytest.mark.parametrize(
    "env",
    [{"PYTHONIOENCODING": "ascii"}, {"LC_ALL": "C", "LANG": "C"}, {"PYTHONIOENCODING": "latin-1"}],
    ids=["ascii", "C-locale", "latin-1"],
)
def test_console_script_verify_prints_chinese_claims_on_any_stdout(
    cli: Cli, ready: Setup, env: dict[str, str]
) -> None:
    proc = _ecert(["verify", present(cli, ready), *ready.verify_args()], cli.folder, **env)
    assert proc.returncode == 0, proc.stderr
    assert b"Traceback" not in proc.stderr
    result = json.loads(proc.stdout)
    assert result["valid"] is True and result["claims"]["name"] == "李四"
