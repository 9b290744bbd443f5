"""Settings read once at the edge, the container that closes its store, and one bundle.

``service.settings.Settings`` is the one reading of ``ECERT_*``: ``create_app`` and the
CLI's ``main`` call it, flags and mappings override it, and an unusable value is one
error with a stable code (``settings_invalid``). ``Ecert.open`` is a context manager
that closes its store on the way out, exception or not. The CLI's bundle export and the
HTTP bundle come from one builder and have one shape.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import stat
from pathlib import Path
from typing import Any

import pytest
import redis

from api import create_app
from cli.main import build_parser, main
from cli.seed import seed_demo
from keys import generate_secret
from service.errors import SettingsInvalid
from service.instance import Ecert
from service.settings import Settings
from store.errors import StoreClosed
from tests.api_helpers import BASE_URL, close_apps, services_of
from tests.hygiene import personal, personal_demo
from verifier import Verifier

ROOT = Path(__file__).resolve().parent.parent
#: The project's packages: none but service/settings.py reads the environment.
PACKAGES = ("keys", "sdjwt", "issuer", "wallet", "verifier", "store", "service", "api", "cli")
#: What of module os reads (or writes) the environment.
_ENV_NAMES = ("environ", "environb", "getenv", "getenvb", "putenv", "unsetenv")
SECRET_LOOKING = personal("s3cr3t-VALUE-never-shown", "test_settings.SECRET_LOOKING")


# -- reading the environment ---------------------------------------------------------------


def test_the_environment_is_parsed_into_typed_values() -> None:
    env = {
        "ECERT_INSTANCE": "/srv/ecert",
        "ECERT_REDIS_URL": "redis://127.0.0.1:6379/0",
        "ECERT_REDIS_CLUSTER": "yes",
        "ECERT_KEY_SECRET": SECRET_LOOKING,
        "ECERT_BASE_URL": "https://ecert.example",
        "ECERT_PASSWORD_HASHER_PARAMS": '{"time_cost": 2, "memory_cost": 2048}',
        "ECERT_LOGIN_ACCOUNT_LIMITS": "[[3, 60]]",
        "ECERT_TRUST_PROXY": "1",
        "ECERT_CORS_ORIGINS": "https://a.example, https://b.example",
        "ECERT_HSTS_MAX_AGE": "0",
        "ECERT_LOG_LEVEL": "debug",
        "ECERT_CHROMIUM": "/usr/bin/chromium",  # another tool's: ignored
        "HOME": "/root",
    }
    s = Settings.from_env(env)
    assert s.instance == Path("/srv/ecert")
    assert s.redis_url == "redis://127.0.0.1:6379/0" and s.redis_cluster is True
    assert s.key_secret == SECRET_LOOKING
    assert s.base_url == "https://ecert.example"
    assert dict(s.password_hasher_params or {}) == {"time_cost": 2, "memory_cost": 2048}
    assert [(lim.count, lim.window) for lim in s.login_policy.per_account] == [(3, 60)]
    assert s.trust_proxy == 1 and s.hsts_max_age == 0 and s.log_level == "DEBUG"
    assert s.cors_origins == ("https://a.example", "https://b.example")
    assert SECRET_LOOKING not in repr(s)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.trust_proxy = 2  # type: ignore[misc]


def test_nothing_set_gives_the_defaults() -> None:
    s = Settings.from_env({})
    assert s == Settings()
    assert s.instance == Path("instance") and s.redis_url is None and not s.redis_cluster
    assert s.key_secret is None and s.base_url is None and s.max_content_length == 64 * 1024


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ECERT_REDIS_CLUSTER", "maybe"),
        ("ECERT_TRUST_PROXY", "-1"),
        ("ECERT_HSTS_MAX_AGE", "a year"),
        ("ECERT_MAX_CONTENT_LENGTH", "true"),
        ("ECERT_RETRY_AFTER", "[5]"),
        ("ECERT_LOG_LEVEL", "LOUD"),
        ("ECERT_BASE_URL", "ftp://ecert.example"),
        ("ECERT_PASSWORD_HASHER_PARAMS", '{"time_cost": "1"}'),
        ("ECERT_PASSWORD_HASHER_PARAMS", '{"type": 1}'),
        ("ECERT_LOGIN_ADDRESS_LIMITS", "[[0, 60]]"),
        ("ECERT_CORS_ORIGINS", "{}"),
        ("ECERT_TRUST_PROXY", "9" * 5000),  # over the length bound
    ],
)
def test_an_unusable_value_is_one_error_naming_the_setting(name: str, value: str) -> None:
    with pytest.raises(SettingsInvalid) as caught:
        Settings.from_env({name: value})
    err = caught.value
    assert err.code == "settings_invalid" and isinstance(err, ValueError)
    key = name.removeprefix("ECERT_")
    assert key in err.message or "login limits" in err.message
    assert "\n" not in err.message and len(err.message) < 200


def test_text_settings_stay_text_even_when_they_look_like_json() -> None:
    s = Settings.from_env({"ECERT_INSTANCE": "2024", "ECERT_KEY_SECRET": "1234"})
    assert s.instance == Path("2024") and s.key_secret == "1234"
    with pytest.raises(SettingsInvalid, match="INSTANCE"):
        Settings.from_mapping({"INSTANCE": 7})


def test_the_cluster_flag_needs_a_url() -> None:
    with pytest.raises(SettingsInvalid, match="ECERT_REDIS_URL"):
        Settings.from_env({"ECERT_REDIS_CLUSTER": "1"})


def test_a_bad_key_secret_is_never_echoed() -> None:
    with pytest.raises(SettingsInvalid) as caught:
        Settings.from_mapping({"KEY_SECRET": [SECRET_LOOKING]})
    assert SECRET_LOOKING not in str(caught.value)


def test_overrides_win_over_the_environment_and_none_keeps_it() -> None:
    env = {"ECERT_INSTANCE": "/from/env", "ECERT_TRUST_PROXY": "2"}
    s = Settings.from_env(env, overrides={"INSTANCE": "/from/flag", "TRUST_PROXY": None})
    assert s.instance == Path("/from/flag") and s.trust_proxy == 2


def test_no_module_but_settings_reads_the_environment() -> None:
    offences = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "service" / "settings.py":
                continue
            tree = ast.parse(path.read_text(encoding="utf-8"))
            # the names module os goes by in this file (``import os as _os`` too)
            aliases = {
                alias.asname or alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.Import)
                for alias in node.names
                if alias.name == "os"
            }
            for node in ast.walk(tree):
                name = None
                # os.environ / os.getenv (a WSGI request's environ is no configuration)
                if (
                    isinstance(node, ast.Attribute)
                    and node.attr in _ENV_NAMES
                    and isinstance(node.value, ast.Name)
                    and node.value.id in aliases
                ):
                    name = f"os.{node.attr}"
                elif isinstance(node, ast.ImportFrom) and node.module == "os":
                    if any(a.name in _ENV_NAMES for a in node.names):
                        name = "from os import environ"
                elif isinstance(node, ast.Attribute) and node.attr == "from_prefixed_env":
                    name = node.attr
                if name is not None and isinstance(node, ast.expr | ast.stmt):
                    offences.append(f"{path.relative_to(ROOT)}:{node.lineno}: {name}")
    assert offences == []


# -- the two edges -----------------------------------------------------------------------


def test_create_app_reads_the_environment_then_its_mapping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECERT_TRUST_PROXY", "2")
    monkeypatch.setenv("ECERT_INSTANCE", str(tmp_path / "env"))
    app = create_app({"TESTING": True, "TRUST_PROXY": 1, "INSTANCE": str(tmp_path / "given")})
    try:
        assert app.config["TRUST_PROXY"] == 1 and app.config["TESTING"] is True
        assert services_of(app).path == tmp_path / "given"
        assert not (tmp_path / "env").exists()
    finally:
        close_apps([app], None)


def test_create_app_takes_settings_as_they_are(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ECERT_INSTANCE", str(tmp_path / "env"))
    monkeypatch.setenv("ECERT_TRUST_PROXY", "not even a number")  # not read at all
    settings = Settings(instance=tmp_path / "given", base_url=BASE_URL, hsts_max_age=5)
    app = create_app(settings)
    try:
        assert app.config["HSTS_MAX_AGE"] == 5
        assert services_of(app).settings is settings
        assert services_of(app).platform.base_url == BASE_URL
        assert not (tmp_path / "env").exists()
    finally:
        close_apps([app], None)


def test_create_app_refuses_an_unusable_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECERT_REDIS_CLUSTER", "cluster")
    with pytest.raises(SettingsInvalid, match="ECERT_REDIS_CLUSTER"):
        create_app()


def test_cli_flags_override_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ECERT_INSTANCE", str(tmp_path / "env"))
    monkeypatch.setenv("ECERT_BASE_URL", "https://env.example")
    flag = tmp_path / "flag"
    assert main(["--instance", str(flag), "init", "--base-url", "https://flag.example"]) == 0
    assert "base URL: https://flag.example" in capsys.readouterr().err
    assert (flag / "ecert.db").exists() and not (tmp_path / "env").exists()
    assert main(["init"]) == 0  # no flags: the environment
    assert "base URL: https://env.example" in capsys.readouterr().err
    assert (tmp_path / "env" / "ecert.db").exists()


def test_cli_refuses_an_unusable_environment_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ECERT_REDIS_CLUSTER", "maybe")
    assert main(["--instance", str(tmp_path / "i"), "init"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ecert: settings_invalid: ") and err.count("\n") == 1
    assert not (tmp_path / "i").exists()


# -- the container -----------------------------------------------------------------------


def _settings(tmp_path: Path, **changes: Any) -> Settings:
    return Settings(instance=tmp_path / "i", key_secret=generate_secret(), **changes)


def test_the_container_closes_its_store_on_exit(tmp_path: Path) -> None:
    with Ecert.open(_settings(tmp_path)) as ecert:
        ecert.platform.ensure_anchor()
        store = ecert.store
    with pytest.raises(StoreClosed):
        store.list_issuers()


def test_the_container_closes_its_store_on_an_exception(tmp_path: Path) -> None:
    class Boom(Exception):
        pass

    with pytest.raises(Boom), Ecert.open(_settings(tmp_path)) as ecert:
        store = ecert.store
        raise Boom
    with pytest.raises(StoreClosed):
        store.list_issuers()


def _clients(url: str) -> int:
    admin = redis.Redis.from_url(url)
    try:
        return len(admin.client_list()) - 1  # not this one
    finally:
        admin.close()


@pytest.mark.redis
def test_the_container_closes_its_redis_connections(
    tmp_path: Path, redis_server: str, redis_store: Any
) -> None:
    before = _clients(redis_server)
    with pytest.raises(RuntimeError), Ecert.open(_settings(tmp_path, redis_url=redis_server)) as e:
        e.platform.ensure_anchor()
        assert _clients(redis_server) > before
        raise RuntimeError("out of the block")
    assert _clients(redis_server) == before


def test_a_store_that_opens_but_an_unusable_secret_is_closed_too(tmp_path: Path) -> None:
    settings = Settings(instance=tmp_path / "i", key_secret="tooShort")
    with pytest.raises(Exception) as caught:
        Ecert.open(settings)
    assert getattr(caught.value, "code", "") in ("key_error", "key_unwrap_failed")
    # the SQLite file is not held open: it can be removed and opened again at once
    with Ecert.open(_settings(tmp_path)) as ecert:
        assert ecert.store.list_keys() == []


# -- one bundle --------------------------------------------------------------------------


def _payload(token: str) -> dict[str, Any]:
    import base64

    part = token.split(".")[1]
    value: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return {k: v for k, v in value.items() if k not in ("iat", "exp")}


def test_the_cli_export_and_the_http_bundle_are_one_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "i"
    app = create_app({"TESTING": True, "INSTANCE": str(folder), "BASE_URL": BASE_URL})
    try:
        built = services_of(app)
        personal_demo(seed_demo(built, built.accounts))
        served = app.test_client().get("/api/v1/verifier/bundle").get_json()
        anchor = app.test_client().get("/api/v1/verifier/anchor").get_json()
        out = tmp_path / "bundle.json"
        assert main(["--instance", str(folder), "bundle", "export", "-o", str(out)]) == 0
        exported = json.loads(out.read_text(encoding="utf-8"))
    finally:
        close_apps([app], None)
    assert set(exported) == set(served) == {"trust_list", "status_lists"}
    assert served["status_lists"]
    # the same documents in the same order; only the signing instant may differ
    assert _payload(exported["trust_list"]) == _payload(served["trust_list"])
    assert [_payload(t) for t in exported["status_lists"]] == [
        _payload(t) for t in served["status_lists"]
    ]
    for bundle in (exported, served):
        Verifier(bundle, anchor=anchor)  # loads: every part signed by the pinned anchor
    assert stat.S_IMODE(out.stat().st_mode) == 0o600


def test_the_trust_list_export_is_private_and_whole(tmp_path: Path) -> None:
    folder = str(tmp_path / "i")
    assert main(["--instance", folder, "init"]) == 0
    out = tmp_path / "t.jwt"
    out.write_text("an older, world-readable file\n", encoding="utf-8")
    out.chmod(0o644)
    assert main(["--instance", folder, "trust-list", "export", "-o", str(out)]) == 0
    assert out.read_text(encoding="ascii").startswith("eyJ")
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".t.jwt")] == []


# -- one way to do each thing ------------------------------------------------------------


def _visible(parser: Any, path: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every command path the help lists."""
    import argparse

    found: set[tuple[str, ...]] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {choice.dest for choice in action._choices_actions}
            for name, sub in action.choices.items():
                if name in listed:
                    found.add((*path, name))
                    found |= _visible(sub, (*path, name))
    return found


def test_no_command_is_listed_twice_under_two_spellings() -> None:
    commands = _visible(build_parser())
    assert ("admin", "department", "add") in commands and ("bundle", "export") in commands
    assert ("issuer",) not in commands and ("admin", "export") not in commands


@pytest.mark.parametrize(
    ("argv", "old", "new"),
    [
        (["issuer", "list"], "ecert issuer list", "ecert admin department list"),
        (
            ["admin", "export", "trust-list", "-o", "t.jwt"],
            "ecert admin export trust-list",
            "ecert trust-list export",
        ),
        (
            ["admin", "export", "bundle", "-o", "b.json"],
            "ecert admin export bundle",
            "ecert bundle export",
        ),
    ],
)
def test_a_removed_spelling_still_works_for_one_release_and_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    old: str,
    new: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["--instance", "i", "init"]) == 0
    capsys.readouterr()
    assert main(["--instance", "i", *argv]) == 0
    err = capsys.readouterr().err.splitlines()
    # The first line names the old spelling and the one command to use, both whole.
    assert err[0] == (
        f"ecert: '{old}' is deprecated and will be removed in the next release; "
        f"use '{new}' (same arguments)"
    )
