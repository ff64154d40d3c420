"""No service starts with an empty token list unless told it is a development run."""

import pytest
from pydantic import ValidationError

from crm_servicekit.settings import ServiceSettings

BASE = {"MONGODB_URL": "mongodb://127.0.0.1:1/", "RABBITMQ_URL": "amqp://u:p@127.0.0.1:1/"}


def settings(monkeypatch, **env: str) -> ServiceSettings:
    for key in ("CRM_API_TOKENS", "CRM_DEV_NO_AUTH"):
        monkeypatch.delenv(key, raising=False)
    for key, value in {**BASE, **env}.items():
        monkeypatch.setenv(key, value)
    return ServiceSettings()


def test_refuses_empty_tokens(monkeypatch):
    with pytest.raises(ValidationError, match="CRM_API_TOKENS is empty"):
        settings(monkeypatch)


def test_refuses_short_tokens(monkeypatch):
    with pytest.raises(ValidationError, match="at least 16"):
        settings(monkeypatch, CRM_API_TOKENS="short")


def test_comma_separated_tokens(monkeypatch):
    s = settings(monkeypatch, CRM_API_TOKENS="aaaaaaaaaaaaaaaa, bbbbbbbbbbbbbbbb")
    assert s.api_tokens == ["aaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbb"]


def test_development_run_may_go_without_tokens(monkeypatch):
    assert settings(monkeypatch, CRM_DEV_NO_AUTH="1").api_tokens == []


def test_urls_are_required(monkeypatch):
    monkeypatch.delenv("MONGODB_URL", raising=False)
    monkeypatch.delenv("RABBITMQ_URL", raising=False)
    monkeypatch.setenv("CRM_API_TOKENS", "aaaaaaaaaaaaaaaa")
    with pytest.raises(ValidationError, match="MONGODB_URL"):
        ServiceSettings()
