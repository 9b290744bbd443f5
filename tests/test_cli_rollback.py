"""``ecert bundle pull`` and ``ecert verify`` refuse rolled-back bundles and status lists.

The bundles are genuinely signed (tests/test_rollback.py's story: one from before a
revocation, one from after) and served by a real HTTP server on 127.0.0.1; ``ecert``
runs in-process. The state file is ``FILE.state.json`` beside ``-o FILE``.
"""

from __future__ import annotations

import functools
import http.server
import json
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cli.main import main
from store.sqlite import SQLiteStore
from tests.factory import Clock, World
from tests.test_rollback import Story, payload_of, resign_trust_list, trust_iat


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@dataclass
class Run:
    code: int
    out: str
    err: str


@dataclass
class Site:
    """A story, the web folder it is served from, and ``ecert`` run in ``folder``."""

    story: Story
    www: Path
    url: str
    folder: Path
    capsys: pytest.CaptureFixture[str]

    @property
    def out(self) -> Path:
        return self.folder / "pulled.json"

    @property
    def state(self) -> Path:
        return self.folder / "pulled.json.state.json"

    @property
    def anchor(self) -> Path:
        return self.folder / "anchor.json"

    def serve(self, bundle: dict[str, Any]) -> None:
        (self.www / "bundle.json").write_text(json.dumps(bundle), encoding="utf-8")

    def ecert(self, *args: str | Path) -> Run:
        self.capsys.readouterr()
        code = main([str(a) for a in args])
        out, err = self.capsys.readouterr()
        return Run(code, out, err)

    def pull(self, *extra: str) -> Run:
        url = f"{self.url}/bundle.json"
        return self.ecert("bundle", "pull", url, "-o", self.out, "--anchor", self.anchor, *extra)

    def verify(self) -> Run:
        return self.ecert(
            "verify", self.story.present(), "--bundle", self.out, "--anchor", self.anchor,
            "--now", str(self.story.world.clock.now),
        )  # fmt: skip


@pytest.fixture
def site(
    sqlite_store: SQLiteStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Site]:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    www = tmp_path / "www"
    www.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_Quiet, directory=str(www))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    # `bundle pull` leaves out lists dated in the future of the real clock: the story
    # happens a quarter of an hour ago (well beyond the minutes it moves its clock on).
    world = World(sqlite_store, clock=Clock(int(time.time()) - 900))
    s = Site(Story(world), www, f"http://127.0.0.1:{server.server_address[1]}", tmp_path, capsys)
    s.anchor.write_text(json.dumps(world.anchor_jwk), encoding="utf-8")
    try:
        yield s
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def refused(site: Site, run: Run, before: tuple[bytes, bytes], words: str) -> None:
    """Exit 2, one line on stderr naming the cause, and both files byte for byte as before."""
    assert run.code == 2, run.err
    assert run.err.startswith("ecert: ") and run.err.count("\n") == 1, run.err
    assert words in run.err and "--allow-older" in run.err
    assert (site.out.read_bytes(), site.state.read_bytes()) == before


def snapshot(site: Site) -> tuple[bytes, bytes]:
    return site.out.read_bytes(), site.state.read_bytes()


def test_a_first_pull_saves_the_bundle_and_a_private_state(site: Site) -> None:
    site.serve(site.story.after)
    run = site.pull()
    assert run.code == 0, run.err
    assert stat.S_IMODE(site.state.stat().st_mode) == 0o600
    [entry] = json.loads(site.state.read_text())["status_lists"]
    assert entry["iat"] == payload_of(site.story.after["status_lists"][0])["iat"]
    assert json.loads(site.verify().out)["errors"][0]["code"] == "revoked"


def test_pull_refuses_an_older_bundle(site: Site) -> None:
    site.serve(site.story.after)
    assert site.pull().code == 0
    before = snapshot(site)
    site.serve(site.story.before)

    refused(site, site.pull(), before, "older")


def test_pull_refuses_a_newer_trust_list_with_older_status_lists(site: Site) -> None:
    site.serve(site.story.after)
    assert site.pull().code == 0
    before = snapshot(site)
    site.story.world.clock.advance(60)
    trust_list = site.story.world.bundle()["trust_list"]
    site.serve({"trust_list": trust_list, "status_lists": site.story.before["status_lists"]})

    refused(site, site.pull(), before, "rolled back: iat")


def test_pull_refuses_an_equal_iat_with_other_content(site: Site) -> None:
    story = site.story
    site.serve(story.after)
    assert site.pull().code == 0
    before = snapshot(site)
    [new], [old] = story.after["status_lists"], story.before["status_lists"]
    forged = story.resign(new, status_list=payload_of(old)["status_list"])
    site.serve(story.after | {"status_lists": [forged]})

    refused(site, site.pull(), before, "different content")


def test_the_state_outlives_a_bundle_file_replaced_by_hand(site: Site) -> None:
    """An operator copies an old bundle over the file: verify and the next pull refuse it."""
    site.serve(site.story.after)
    assert site.pull().code == 0
    site.out.write_text(json.dumps(site.story.before), encoding="utf-8")
    before = snapshot(site)

    verified = site.verify()

    # its trust list is older than the one the state remembers: the bundle is unusable
    assert verified.code == 2 and verified.out == ""
    assert verified.err.count("\n") == 1 and verified.err.startswith("ecert: the trust list of ")
    assert f"rolled back: iat {trust_iat(site.story.before)} older than" in verified.err
    assert snapshot(site) == before  # verify never writes the state
    site.serve(site.story.before)  # the same old bundle, downloaded again
    refused(site, site.pull(), before, "rolled back")


def test_the_state_outlives_status_lists_replaced_by_hand(site: Site) -> None:
    """The current trust list with the status lists from before: the lists are left out."""
    site.serve(site.story.after)
    assert site.pull().code == 0
    site.out.write_text(json.dumps(site.story.stale), encoding="utf-8")

    verified = site.verify()

    assert verified.code == 1
    [error] = json.loads(verified.out)["errors"]
    assert error["code"] == "status_unavailable" and "rolled back" in error["message"]


def test_pull_refuses_an_older_trust_list_that_only_the_state_remembers(site: Site) -> None:
    """The old trust list with the newest status lists, after the saved file was replaced."""
    story = site.story
    site.serve(story.after)
    assert site.pull().code == 0
    site.out.write_text(json.dumps(story.before), encoding="utf-8")  # the file forgets
    before = snapshot(site)
    site.serve(
        {"trust_list": story.before["trust_list"], "status_lists": story.after["status_lists"]}
    )

    run = site.pull()

    refused(site, run, before, f"the trust list of {payload_of(story.after['trust_list'])['iss']}")
    assert (
        f"rolled back: iat {trust_iat(story.before)} older than {trust_iat(story.after)} "
        "already accepted"
    ) in run.err


def test_pull_refuses_a_trust_list_with_an_equal_iat_and_other_content(site: Site) -> None:
    story = site.story
    site.serve(story.after)
    assert site.pull().code == 0
    before = snapshot(site)
    token = story.after["trust_list"]
    forged = resign_trust_list(story, token, ttl=payload_of(token)["ttl"] + 1)
    site.serve(story.after | {"trust_list": forged})

    refused(site, site.pull(), before, "already accepted with different content")


def test_a_version_1_state_file_is_read_and_upgraded_by_a_pull(site: Site) -> None:
    site.state.write_text('{"version": 1, "status_lists": []}', encoding="utf-8")
    site.serve(site.story.after)

    assert site.pull().code == 0
    state = json.loads(site.state.read_text())
    assert state["version"] == 2
    assert [e["iat"] for e in state["trust_lists"]] == [trust_iat(site.story.after)]


def test_a_newer_bundle_is_taken_and_remembered(site: Site) -> None:
    site.serve(site.story.before)
    assert site.pull().code == 0
    assert site.verify().code == 0
    site.serve(site.story.after)
    assert site.pull().code == 0
    assert json.loads(site.verify().out)["errors"][0]["code"] == "revoked"


def test_allow_older_is_the_operators_override(site: Site) -> None:
    site.serve(site.story.after)
    assert site.pull().code == 0
    site.serve(site.story.before)

    run = site.pull("--allow-older")

    assert run.code == 0, run.err
    assert json.loads(site.out.read_text()) == site.story.before
    [entry] = json.loads(site.state.read_text())["status_lists"]
    assert entry["iat"] == payload_of(site.story.before["status_lists"][0])["iat"]
    [trust] = json.loads(site.state.read_text())["trust_lists"]
    assert trust["iat"] == trust_iat(site.story.before)  # the reference now
    assert site.verify().code == 0  # the operator chose this bundle
    site.serve(site.story.after)
    assert site.pull().code == 0  # and a newer one is taken again


@pytest.mark.parametrize("command", ["pull", "verify"])
@pytest.mark.parametrize(
    "corrupt",
    [
        b'{"version": 1, "status_lists": [{"iss": 1}]}',
        b'{"version": 2, "status_lists": [], "trust_lists": [{"iss": "a", "iat": "5"}]}',
    ],
    ids=["status-entry", "trust-entry"],
)
def test_a_corrupt_state_file_exits_2_and_is_kept(site: Site, command: str, corrupt: bytes) -> None:
    site.serve(site.story.after)
    assert site.pull().code == 0
    site.state.write_bytes(corrupt)
    before = snapshot(site)

    run = site.pull() if command == "pull" else site.verify()

    assert run.code == 2 and run.err.count("\n") == 1 and "corrupt" in run.err
    assert snapshot(site) == before


def test_help_says_where_the_state_is(site: Site) -> None:
    run = site.ecert("bundle", "pull", "--help")
    assert run.code == 0 and "state.json" in run.out and "--allow-older" in run.out
