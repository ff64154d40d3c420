"""What the browser tests of the staff console share (tests/browser): the console process, staff
accounts made with its admin command, signing in, screenshots into docs/console/."""

import asyncio
import os
import re
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from harness import ROOT, Broker, ServiceProcess

CHROMIUM = os.environ.get("CRM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]  # fmt: skip
SHOTS = ROOT / "docs" / "console"
BACKENDS = ("customers", "groups", "ledger", "segments")
expect.set_options(timeout=15_000)  # a change goes through the broker before a page shows it


@dataclass
class Staff:
    email: str
    password: str
    role: str


@dataclass
class Console:
    url: str
    process: ServiceProcess
    services: dict[str, ServiceProcess]
    admin: Staff
    viewer: Staff
    env: dict[str, str]

    def create_staff(self, role: str) -> Staff:
        email = f"{role}.{uuid.uuid4().hex[:6]}@shop.example"
        done = subprocess.run(
            [sys.executable, "-m", "crm_console.admin", "create", email, "--role", role],
            env={**os.environ, **self.env}, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        password = re.search(r"Password \(shown only now\): (\S+)", done.stdout)
        assert password, done.stdout
        return Staff(email, password.group(1), role)

    def api(self, service: str):
        """An HTTP client of a service, for arranging data and checking what a page did."""
        return self.services[service].sync_client()


def sign_in(page: Page, staff: Staff) -> Page:
    page.goto("/sign-in")
    page.get_by_label("E-mail").fill(staff.email)
    page.get_by_label("Password").fill(staff.password)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    return page


def screenshot(page: Page, name: str, full_page: bool = True) -> Path:
    """docs/console/<name>.png: the README shows the current ones."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def wait_until(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    """Polls `check` until it returns something truthy (the system is asynchronous)."""
    deadline = time.monotonic() + timeout
    while not (got := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)
    return got


def publish(rabbit_url: str, events: list[dict[str, Any]]) -> None:
    """Publishes as a storefront does. From another thread: Playwright's sync API keeps an
    event loop running in this one."""

    async def send() -> None:
        async with Broker(rabbit_url) as broker:
            for e in events:
                await broker.publish(e)

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, send()).result()


def create_customer(console: Console, **body: Any) -> dict[str, Any]:
    r = console.api("customers").post("/v1/customers", json=body)
    assert r.status_code == 201, r.text
    return r.json()
