"""Helpers for the browser tests: the real service in a subprocess, Debian's Chromium
driven by Playwright, screenshots, and the axe-core accessibility check.

Chromium comes from Debian (``/usr/bin/chromium``, installed by ``scripts/test``);
Playwright never downloads a browser here. As root, Chromium needs ``--no-sandbox``.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.conftest import free_port
from tests.hygiene import SESSION_LOGS, personal_demo

CHROMIUM = os.environ.get("ECERT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: The phone the pages are designed for first (CSS pixels).
PHONE = {"width": 390, "height": 844}
ECERT = str(Path(sys.executable).with_name("ecert"))
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Service:
    """``ecert serve --demo`` (gunicorn) on 127.0.0.1 with its own instance."""

    base: str
    instance: Path
    proc: subprocess.Popen[bytes]
    log: Path
    demo: dict[str, Any] = field(default_factory=dict)

    def venue_key(self, venue_id: str) -> str:
        return str(next(v["api_key"] for v in self.demo["venues"] if v["id"] == venue_id))

    def citizen(self, index: int = 0) -> dict[str, str]:
        return dict(self.demo["citizens"][index])


def _healthy(base: str) -> bool:
    try:
        with urllib.request.urlopen(base + "/healthz", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@contextmanager
def running_service(folder: Path) -> Iterator[Service]:
    """Start the demo service under gunicorn; stop it (SIGTERM, then kill) afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    instance = folder / "instance"
    port = free_port()
    log = folder / f"serve-{port}.log"
    env = {**os.environ, "ECERT_INSTANCE": str(instance)}
    env.pop("ECERT_KEY_SECRET", None)
    env.pop("ECERT_REDIS_URL", None)
    env.pop("ECERT_BASE_URL", None)
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [ECERT, "serve", "--demo", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "2", "--threads", "4"],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while not _healthy(base):
            if proc.poll() is not None:
                raise AssertionError(f"ecert serve exited:\n{log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise AssertionError("ecert serve did not answer within 60 s")
            time.sleep(0.2)
        demo = json.loads((instance / "demo.json").read_text(encoding="utf-8"))
        personal_demo(demo)
        yield Service(base, instance, proc, log, demo)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        SESSION_LOGS.add_serve_log(log)


def launch_chromium(playwright: Any) -> Any:
    """Debian's Chromium, headless, with nothing that reaches the network by itself."""
    return playwright.chromium.launch(
        executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
    )


def phone_context(browser: Any, base: str) -> Any:
    """A fresh browser context (new profile) sized and scaled like a phone."""
    return browser.new_context(
        base_url=base,
        viewport=PHONE,
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="zh-CN",
        service_workers="allow",
    )


class Screenshots:
    """Numbered full-page screenshots under ``folder``; copied to
    ``test-output/screenshots/`` at the repository root when ``ECERT_SCREENSHOTS`` is set."""

    def __init__(self, folder: Path, prefix: str) -> None:
        self.folder = folder
        self.prefix = prefix.removeprefix("test-")
        self.count = 0
        self.paths: list[Path] = []
        folder.mkdir(parents=True, exist_ok=True)

    def take(self, page: Any, name: str) -> Path:
        self.count += 1
        path = self.folder / f"{self.prefix}-{self.count:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True, animations="disabled")
        self.paths.append(path)
        if os.environ.get("ECERT_SCREENSHOTS"):
            target = REPO / "test-output" / "screenshots"
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target / path.name)
        return path


def serious_violations(page: Any) -> list[dict[str, Any]]:
    """axe-core's violations of impact serious or critical on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    violations = results.response.get("violations", [])
    return [
        {
            "id": v["id"],
            "impact": v.get("impact"),
            "help": v.get("help"),
            "nodes": [n.get("target") for n in v.get("nodes", [])][:5],
        }
        for v in violations
        if v.get("impact") in ("serious", "critical")
    ]


def qr_video(png: bytes, path: Path, size: tuple[int, int] = (640, 480)) -> Path:
    """A short Y4M video (4:2:0) of the QR image on a grey desk, for Chromium's fake
    camera (``--use-file-for-fake-video-capture``)."""
    from PIL import Image

    width, height = size
    with Image.open(io.BytesIO(png)) as qr:
        side = min(width, height) - 40
        code = qr.convert("L").resize((side, side), Image.Resampling.NEAREST)
    frame = Image.new("L", size, 170)
    frame.paste(code, ((width - side) // 2, (height - side) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for _ in range(2):
            out.write(b"FRAME\n" + luma + chroma + chroma)
    return path


def require_chromium() -> None:
    """Skip the calling test module when Debian's Chromium is missing; on CI, fail."""
    import pytest

    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI"):  # pragma: no cover - depends on the machine
        raise RuntimeError(f"{CHROMIUM} is missing: scripts/test installs it (apt-get chromium)")
    pytest.skip(  # pragma: no cover - depends on the machine
        f"no Chromium at {CHROMIUM} (apt-get install chromium)", allow_module_level=True
    )


class PageErrors:
    """Script errors and CSP violations of a page: there must be none."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("pageerror", lambda err: self.errors.append(f"pageerror: {err}"))
        page.on("console", self._console)

    def _console(self, message: Any) -> None:
        text = message.text
        if message.type == "error" and "Failed to load resource" not in text:
            self.errors.append(f"console: {text}")
        if "Content Security Policy" in text:
            self.errors.append(f"csp: {text}")


def screenshots_for(tmp_path: Path, test_name: str) -> Screenshots:
    """Where a test's screenshots go, named after the test."""
    name = re.sub(r"[^a-z0-9]+", "-", test_name.lower()).strip("-")
    return Screenshots(tmp_path / "screenshots", name)


def box_of(locator: Any, timeout: float = 15.0) -> dict[str, float]:
    """The bounding box of a visible element, waiting for one. A page that draws a list
    again (the wallet redraws its cards when the phone's copy changes) can replace the
    element between the locator finding it and measuring it, and Playwright then
    answers None for the detached node: measure again, as a person would look again."""
    deadline = time.monotonic() + timeout
    while True:
        box = locator.bounding_box()
        if box is not None:
            return dict(box)
        if time.monotonic() > deadline:
            raise AssertionError(f"no box within {timeout} s: {locator}")
        time.sleep(0.05)


def wait_until(page: Any, script: str, timeout: float = 15.0) -> Any:
    """Evaluate ``script`` (which may be async) in the page until it gives a truthy value,
    and return it. ``page.wait_for_function`` does not await a promise: an async
    predicate passes at once, whatever it would resolve to."""
    deadline = time.monotonic() + timeout
    while True:
        value = page.evaluate(script)
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still falsy after {timeout} s: {script}")
        time.sleep(0.1)
