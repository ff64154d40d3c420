"""A customer's page while the ledger is down: a change to it shows the banner and moves
nothing; the store credit and rewards sections say so plainly while the rest of the page
still shows; they come back by themselves once the ledger answers again. In a module of its
own: it stops a service the other tests need."""

import uuid

from console_support import Console
from playwright.sync_api import Page, expect


def test_a_stopped_ledger_leaves_a_notice_in_its_sections_only(admin: Page, console: Console, system):
    r = console.api("customers").post(
        "/v1/customers",
        json={"email": f"outage.{uuid.uuid4().hex[:8]}@page.example", "first_name": "Otto", "last_name": "Down",
              "notes": [{"body": "Still readable"}]},
    )  # fmt: skip
    assert r.status_code == 201, r.text
    customer = r.json()
    admin.goto(f"/customers/{customer['id']}")
    credit = admin.locator("#part-credit")
    expect(credit.get_by_role("button", name="Save", exact=True)).to_be_visible()
    credit.get_by_label("Amount").fill("10")

    console.services["ledger"].stop()
    try:
        credit.get_by_role("button", name="Save", exact=True).click()  # a change to a service that is down
        expect(admin.get_by_role("alert")).to_contain_text("The ledger service is not answering")
        expect(admin.get_by_role("heading", level=1)).to_have_text("Ledger unavailable")

        admin.goto(f"/customers/{customer['id']}")
        expect(admin.get_by_role("heading", level=1)).to_have_text("Otto Down")
        expect(admin.locator("#notes")).to_contain_text("Still readable")  # the rest still shows
        expect(admin.locator("#part-credit")).to_contain_text("Ledger service unavailable.")
        expect(admin.locator("#part-rewards")).to_contain_text("Ledger service unavailable.")
        expect(admin.locator("#part-segments")).not_to_contain_text("unavailable")
    finally:
        system.service("ledger")
    # back by itself: the section asks again every few seconds
    expect(admin.locator("#part-credit").get_by_role("button", name="Save", exact=True)).to_be_visible()
    expect(admin.locator("#part-credit")).to_contain_text("No store credit yet.")
