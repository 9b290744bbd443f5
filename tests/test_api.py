"""The app factory placeholder (the service comes with its own milestone)."""

from __future__ import annotations

import pytest

from api import create_app


def test_healthz_answers_ok() -> None:
    client = create_app({"TESTING": True}).test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_body_size_is_capped_by_default() -> None:
    assert create_app().config["MAX_CONTENT_LENGTH"] == 64 * 1024


def test_environment_then_explicit_config(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ECERT_MAX_CONTENT_LENGTH", "1024")
    assert create_app().config["MAX_CONTENT_LENGTH"] == 1024
    assert create_app({"MAX_CONTENT_LENGTH": 10}).config["MAX_CONTENT_LENGTH"] == 10
