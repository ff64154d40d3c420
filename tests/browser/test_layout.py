"""The console on a tablet and from the keyboard: no page is wider than the screen, every
field has a label, and the main pages can be reached and used without a mouse."""

import pytest
from console_support import Console, create_customer, sign_in
from playwright.sync_api import Browser, Page, expect

PAGES = [
    "/customers",
    "/customers/new",
    "/groups",
    "/segments",
    "/segments/new",
    "/segments/analytics",
    "/staff",
]


@pytest.fixture
def tablet(browser: Browser, console: Console) -> Page:
    ctx = browser.new_context(base_url=console.url, viewport={"width": 768, "height": 1024}, has_touch=True)
    yield sign_in(ctx.new_page(), console.admin)
    ctx.close()


def unlabelled(page: Page) -> list[str]:
    """Form controls a screen reader cannot name: no <label for>, no wrapping label, no aria."""
    return page.evaluate(
        """() => [...document.querySelectorAll('input, select, textarea')]
            .filter(e => e.type !== 'hidden' && !e.labels.length && !e.getAttribute('aria-label')
                         && !e.getAttribute('aria-labelledby'))
            .map(e => e.outerHTML.slice(0, 120))"""
    )


@pytest.mark.parametrize("path", PAGES)
def test_each_main_page_fits_a_tablet_and_labels_every_field(tablet: Page, path: str):
    tablet.goto(path)
    expect(tablet.get_by_role("heading", level=1)).to_be_visible()
    overflow = tablet.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{path} is {overflow}px wider than a tablet"
    assert unlabelled(tablet) == []


def test_the_keyboard_alone_finds_a_customer_and_opens_the_page(admin: Page, console: Console):
    c = create_customer(console, email="keyboard.only@layout.example", first_name="Kim", last_name="Keys")
    admin.goto("/customers")
    admin.keyboard.press("Tab")  # the first stop is the skip link
    expect(admin.get_by_role("link", name="Skip to content")).to_be_focused()
    admin.keyboard.press("Enter")
    search = admin.get_by_label("Search", exact=False).first
    search.focus()
    admin.keyboard.type("keyboard.only")
    row_link = admin.get_by_role("link", name="Kim Keys")
    expect(row_link).to_be_visible()
    row_link.focus()
    admin.keyboard.press("Enter")
    expect(admin).to_have_url(f"{console.url}/customers/{c['id']}")
    # Every focused control shows where it is (a visible outline).
    admin.get_by_role("button", name="Sign out").focus()
    outline = admin.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
