"""Browser tests of the staff console: Debian's Chromium driven by Playwright, against the
console and the real services, broker and database (no mocks). Each module gets its own
services, console and staff accounts; screenshots of the main pages go to docs/console/."""

from collections.abc import Iterator

import pytest
from console_support import BACKENDS, CHROMIUM, CHROMIUM_ARGS, Console, sign_in
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from harness import TOKEN, ServiceProcess


@pytest.fixture(scope="module")
def console(system) -> Iterator[Console]:
    services = {name: system.service(name) for name in BACKENDS}
    env = {
        "MONGODB_URL": system.mongo_url,
        "CRM_CONSOLE_DATABASE": system.database("console"),
        "CRM_API_TOKENS": TOKEN,
        **{f"CRM_{name.upper()}_URL": services[name].url for name in BACKENDS},
        "CRM_ENGAGEMENT_URL": "http://127.0.0.1:9",  # not started: nothing here needs it
        "CRM_LOG_LEVEL": "INFO",
    }
    process = ServiceProcess("console", env, system.logs / f"{system.tag}-console.log").start()
    c = Console(process.url, process, services, None, None, env)  # type: ignore[arg-type]
    c.admin, c.viewer = c.create_staff("admin"), c.create_staff("viewer")
    yield c
    process.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module, not per session: Playwright's sync API keeps an event loop running while it
    # is open, and the async tests after the browser modules need the thread without one.
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def context(browser: Browser, console: Console) -> Iterator[BrowserContext]:
    # A laptop screen; tests that check a tablet set their own viewport.
    ctx = browser.new_context(base_url=console.url, viewport={"width": 1366, "height": 860})
    yield ctx
    ctx.close()


@pytest.fixture
def anonymous(context: BrowserContext) -> Page:
    return context.new_page()


@pytest.fixture
def admin(context: BrowserContext, console: Console) -> Page:
    """A page signed in as an admin."""
    return sign_in(context.new_page(), console.admin)


@pytest.fixture
def viewer(context: BrowserContext, console: Console) -> Page:
    return sign_in(context.new_page(), console.viewer)
