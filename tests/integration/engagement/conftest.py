"""Fixtures of the engagement tests: Mailpit (the real SMTP server `./crm test` starts, on the
test ports; or one of the module's own from the built binary when run without it), read
through its HTTP API, and helpers that publish what the service learns from."""

import asyncio
import os
import subprocess
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from harness import ROOT, Broker, envelope, free_port


class Mailpit:
    def __init__(self, url: str, smtp_host: str, smtp_port: int) -> None:
        self.url = url.rstrip("/")
        self.smtp_host, self.smtp_port = smtp_host, smtp_port

    async def to(self, email: str) -> list[dict[str, Any]]:
        """The summaries of the messages delivered to `email` (newest first)."""
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(f"{self.url}/api/v1/search", params={"query": f'to:"{email}"', "limit": 200})
            r.raise_for_status()
            return [m for m in r.json()["messages"] if any(t["Address"] == email for t in m["To"])]

    async def count(self, query: str) -> int:
        """How many delivered messages match a Mailpit search (e.g. `subject:"..."`)."""
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(f"{self.url}/api/v1/search", params={"query": query, "limit": 1})
            r.raise_for_status()
            return int(r.json()["messages_count"])

    async def wait_to(self, email: str, count: int = 1, timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            found = await self.to(email)
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(f"expected {count} mail(s) to {email}, got {len(found)}")
            await asyncio.sleep(0.2)

    async def message(self, mailpit_id: str) -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(f"{self.url}/api/v1/message/{mailpit_id}")
            r.raise_for_status()
            return r.json()

    async def headers(self, mailpit_id: str) -> dict[str, list[str]]:
        async with httpx.AsyncClient(timeout=10) as http:
            r = await http.get(f"{self.url}/api/v1/message/{mailpit_id}/headers")
            r.raise_for_status()
            return r.json()


def _up(url: str) -> bool:
    try:
        return httpx.get(f"{url}/api/v1/messages?limit=1", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="session")
def mailpit() -> Iterator[Mailpit]:
    url = os.environ.get("CRM_MAILPIT_URL")
    if url and _up(url):
        yield Mailpit(url, os.environ.get("CRM_SMTP_HOST", "127.0.0.1"), int(os.environ["CRM_SMTP_PORT"]))
        return
    binary = ROOT / ".cache" / "mailpit-v1.33.1"
    if not binary.exists():
        pytest.exit("Mailpit is not running and not built: run the tests with ./crm test", returncode=2)
    http_port, smtp_port = free_port(), free_port()
    proc = subprocess.Popen(
        [
            str(binary),
            "--listen",
            f"127.0.0.1:{http_port}",
            "--smtp",
            f"127.0.0.1:{smtp_port}",
            "--disable-version-check",
            "--smtp-auth-accept-any",
            "--smtp-auth-allow-insecure",
            "--quiet",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{http_port}"
    for _ in range(100):
        if _up(url):
            break
        time.sleep(0.1)
    yield Mailpit(url, "127.0.0.1", smtp_port)
    proc.terminate()
    proc.wait(10)


def service_env(mailpit: Mailpit, **extra: str) -> dict[str, str]:
    return {
        "CRM_SMTP_HOST": mailpit.smtp_host,
        "CRM_SMTP_PORT": str(mailpit.smtp_port),
        "CRM_ENGAGEMENT_SEND_EVERY_SECONDS": "0.2",
        "CRM_ENGAGEMENT_CAMPAIGN_EVERY_SECONDS": "0.3",
        "CRM_ENGAGEMENT_RETRY_BASE_SECONDS": "0.3",
        **extra,
    }


@pytest.fixture
def engagement(system, mailpit):
    """The engagement service of this module, sending to Mailpit."""
    return system.service("engagement", **service_env(mailpit))


def unique_email(name: str = "ana") -> str:
    return f"{name}.{uuid.uuid4().hex[:10]}@example.com"


def customer_state(customer_id: str, email: str, *, version: int = 1, **changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC).isoformat()
    return {
        "id": customer_id,
        "version": version,
        "email": email,
        "first_name": "Ana",
        "last_name": "Lima",
        "has_account": False,
        "email_subscribed": False,
        "tags": [],
        "created_at": now,
        "updated_at": now,
        **changes,
    }


class People:
    """Publishes what the engagement service learns customers from."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker

    async def customer(self, *, consent: bool = False, **changes: Any) -> tuple[str, str]:
        customer_id, email = f"cus_{uuid.uuid4().hex[:12]}", changes.pop("email", None) or unique_email()
        state = customer_state(customer_id, email, **changes)
        await self.broker.publish(envelope("customer.created", state))
        if consent:
            # Strictly after the profile's statement: at the same millisecond an unsubscribe wins.
            at = datetime.fromisoformat(state["updated_at"]) + timedelta(milliseconds=1)
            await self.broker.publish(
                envelope(
                    "newsletter.subscribed", {"email": email, "at": max(at, datetime.now(UTC)).isoformat()}
                )
            )
        return customer_id, email


@pytest.fixture
def people(broker: Broker) -> People:
    return People(broker)


@pytest.fixture
def helpers():
    return {"unique_email": unique_email, "customer_state": customer_state, "service_env": service_env}
