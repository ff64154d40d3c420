"""A customer's page in a real browser against the real services: history and notes (the
author is the signed-in person), tags, status, addresses, orders sorted, store credit funded
then an overdraft refused (the ledger records the signed-in person as operator), rewards,
coupons and segments, the export collected from every service, erasure scheduled after a
confirmation and cancelled, and a viewer refused a change."""

import json
import re
import uuid
from typing import Any

import pytest
from console_support import Console, create_customer, publish, screenshot, wait_until
from playwright.sync_api import Page, expect

from harness import envelope, order_placed


@pytest.fixture
def customer(console: Console) -> dict[str, Any]:
    tag = uuid.uuid4().hex[:8]
    return create_customer(
        console,
        email=f"page.{tag}@page.example",
        first_name="Paula",
        last_name=f"Page{tag}",
        company="Page Lda",
        tags=["vip"],
    )


def open_page(page: Page, c: dict[str, Any]) -> Page:
    page.goto(f"/customers/{c['id']}")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Paula {c['last_name']}")
    return page


def credit_ready(page: Page) -> None:
    """The ledger learns of a new customer through the broker: the section shows its form then."""
    expect(page.get_by_role("button", name="Save", exact=True)).to_be_visible()


def test_the_page_with_orders_notes_credit_rewards_and_segments(
    admin: Page, console: Console, system, customer: dict[str, Any]
):
    segment = console.api("segments").post(
        "/v1/segments", json={"name": f"Portugal {customer['id'][-6:]}", "rule": "country = 'PT'"}
    )
    assert segment.status_code == 201, segment.text
    base = {"email": customer["email"], "customer_id": customer["id"], "first_name": "Paula",
            "last_name": customer["last_name"], "phone": None}  # fmt: skip
    publish(
        system.rabbit_url,
        [
            envelope(
                "order.placed",
                order_placed(
                    customer["email"],
                    "ord-small",
                    total=2500,
                    placed_at="2026-11-10T10:00:00Z",
                    customer=base,
                ),
            ),  # fmt: skip
            envelope(
                "order.placed",
                order_placed(
                    customer["email"], "ord-big", total=19900, placed_at="2026-11-05T10:00:00Z", customer=base
                ),
            ),  # fmt: skip
        ],
    )
    wait_until(
        lambda: (
            console.api("customers")
            .get(f"/v1/customers/{customer['id']}")
            .json()["stats"]["number_of_orders"]
            == 2
        ),
        what="the orders to reach the customers service",
    )
    open_page(admin, customer)
    expect(admin.get_by_test_id("number-of-orders")).to_have_text("2")
    expect(admin.locator("#history")).to_contain_text("2026-11-05")  # the first order
    orders = admin.locator("#orders tbody tr td:first-child")
    expect(orders).to_have_text(["ord-small", "ord-big"])  # newest first
    admin.get_by_role("link", name="Highest value first").click()
    expect(orders).to_have_text(["ord-big", "ord-small"])
    admin.get_by_role("link", name="Lowest value first").click()
    expect(orders).to_have_text(["ord-small", "ord-big"])
    expect(admin.locator("#orders")).to_contain_text("199.00 EUR")

    admin.get_by_label("New note").fill("Prefers phone calls")
    admin.get_by_role("button", name="Add note").click()
    expect(admin.get_by_role("status").filter(has_text="Note added.")).to_be_visible()
    expect(admin.locator("#notes")).to_contain_text("Prefers phone calls")
    expect(admin.locator("#notes")).to_contain_text(console.admin.email)
    notes = console.api("customers").get(f"/v1/customers/{customer['id']}/notes").json()["items"]
    assert [(n["body"], n["author"]) for n in notes] == [("Prefers phone calls", console.admin.email)]

    credit_ready(admin)
    credit = admin.locator("#part-credit")
    credit.get_by_label("Amount").fill("12.50")
    credit.get_by_label("Reason").fill("Goodwill")
    credit.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status").filter(has_text="Store credit")).to_have_text(
        "Store credit added: 12.50 EUR."
    )
    balance = admin.locator("#part-credit tr[data-currency=EUR]")
    expect(balance).to_contain_text("12.50 EUR")
    expect(admin.locator("#part-credit .entries")).to_contain_text(console.admin.email)
    entries = console.api("ledger").get(f"/v1/accounts/{customer['id']}/entries").json()["items"]
    assert [(e["kind"], e["amount"], e["operator"]) for e in entries] == [
        ("funding", 1250, console.admin.email)
    ]

    # More than the balance: refused, said beside the amount, nothing moved
    admin.locator("#part-credit").get_by_label("Action").select_option("unfunding")
    admin.locator("#part-credit").get_by_label("Amount").fill("20")
    admin.locator("#part-credit").get_by_role("button", name="Save").click()
    expect(admin.locator("#f-amount-error")).to_contain_text("Insufficient funds")
    expect(admin.locator("#part-credit tr[data-currency=EUR]")).to_contain_text("12.50 EUR")
    assert len(console.api("ledger").get(f"/v1/accounts/{customer['id']}/entries").json()["items"]) == 1
    admin.locator("#part-credit").get_by_label("Amount").fill("2.50")
    admin.locator("#part-credit").get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status").filter(has_text="Store credit")).to_have_text(
        "Store credit deducted: 2.50 EUR."
    )
    expect(admin.locator("#part-credit tr[data-currency=EUR]")).to_contain_text("10.00 EUR")
    # the account history by kind
    admin.locator("#part-credit").get_by_label("Kind").select_option("unfunding")
    admin.locator("#part-credit").get_by_role("button", name="Filter").click()
    expect(admin.locator("#part-credit .entries tbody tr")).to_have_count(1)
    expect(admin.locator("#part-credit .entries tbody")).to_contain_text("Deduction")

    expect(admin.locator("#part-rewards")).to_contain_text("Points")
    expect(admin.locator("#part-rewards")).to_contain_text("Coupons issued")
    expect(admin.locator("#part-segments")).to_contain_text(segment.json()["name"])
    expect(admin.locator("#part-groups")).to_contain_text("In no group.")
    admin.goto(f"/customers/{customer['id']}")
    expect(admin.locator("#part-segments")).to_contain_text(segment.json()["name"])
    screenshot(admin, "customer")


def test_a_double_submitted_funding_moves_money_once(admin: Page, console: Console, customer):
    open_page(admin, customer)
    credit_ready(admin)
    form = admin.locator("#part-credit form.credit-form")
    form.get_by_label("Amount").fill("5")
    # the same form sent twice (a double click, a resent request): one Idempotency-Key
    admin.evaluate(
        """() => { const f = document.querySelector('#part-credit form.credit-form');
                   const body = new URLSearchParams(new FormData(f));
                   return Promise.all([1, 2].map(() => fetch(f.action, {method: 'POST', body}))); }"""
    )
    admin.reload()
    expect(admin.locator("#part-credit tr[data-currency=EUR]")).to_contain_text("5.00 EUR")
    entries = console.api("ledger").get(f"/v1/accounts/{customer['id']}/entries").json()["items"]
    assert [e["amount"] for e in entries] == [500]


def test_tags_status_details_and_an_address(admin: Page, console: Console, customer):
    open_page(admin, customer)
    admin.get_by_label("Add a tag").fill("wholesale")
    admin.get_by_role("button", name="Add tag").click()
    expect(admin.get_by_role("status").filter(has_text="Tag")).to_have_text("Tag wholesale added.")
    tags = admin.get_by_role("list", name="Tags")
    expect(tags).to_contain_text("wholesale")
    admin.get_by_role("button", name="Remove tag vip").click()
    expect(admin.get_by_role("status").filter(has_text="Tag")).to_have_text("Tag vip removed.")
    expect(tags).not_to_contain_text("vip")
    assert console.api("customers").get(f"/v1/customers/{customer['id']}").json()["tags"] == ["wholesale"]

    admin.get_by_label("Status").select_option("inactive")
    admin.get_by_role("button", name="Save account").click()
    expect(admin.get_by_role("status").filter(has_text="Account saved.")).to_be_visible()
    expect(admin.get_by_test_id("status")).to_have_text("inactive")

    admin.get_by_label("Phone").fill("not a phone")
    admin.get_by_role("button", name="Save details").click()
    expect(admin.locator("#f-phone-error")).to_contain_text("phone")
    expect(admin.get_by_label("Company")).to_have_value("Page Lda")
    admin.get_by_label("Phone").fill("+351912345678")
    admin.get_by_label("Company").fill("Page & Filhos")
    admin.get_by_role("button", name="Save details").click()
    expect(admin.get_by_role("status").filter(has_text="Details saved.")).to_be_visible()
    expect(admin.get_by_label("Company")).to_have_value("Page & Filhos")

    admin.get_by_text("Add an address").click()
    admin.get_by_label("Type", exact=True).select_option("shipping")
    admin.get_by_label("Address line 1").fill("Rua D 4")
    admin.get_by_label("City").fill("Braga")
    admin.get_by_label("Country code").fill("ZZ")
    admin.get_by_role("button", name="Add address").click()
    expect(admin.locator("#f-address-country_code-error")).to_contain_text("country")
    admin.get_by_label("Country code").fill("PT")
    admin.get_by_role("button", name="Add address").click()
    expect(admin.get_by_role("status").filter(has_text="address")).to_have_text("Shipping address added.")
    expect(admin.locator("#addresses")).to_contain_text("Rua D 4, Braga, PT")


def test_export_collects_every_service_and_erasure_is_scheduled_then_cancelled(
    admin: Page, console: Console, customer
):
    open_page(admin, customer)
    admin.get_by_role("button", name="Export data").click()
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_contain_text("personal data")
    dialog.get_by_role("button", name="Export").click()
    expect(admin.get_by_role("heading", name="Personal data export")).to_be_visible()
    # The page follows the services' answers; engagement is not started in these tests.
    answered = admin.get_by_test_id("answered")
    for service in ("groups", "ledger", "segments"):
        expect(answered).to_contain_text(service, timeout=30_000)
    expect(admin.get_by_test_id("awaited")).to_have_text("engagement")
    screenshot(admin, "personal-data-export")
    with admin.expect_download() as info:
        admin.get_by_role("button", name=re.compile("Download")).click()
    download = info.value
    assert download.suggested_filename == f"personal-data-{customer['id']}.json"
    exported = json.loads(open(download.path(), encoding="utf-8").read())
    assert exported["customers"]["customer"]["email"] == customer["email"]
    assert set(exported["services"]) == {"groups", "ledger", "segments"}

    open_page(admin, customer)
    admin.get_by_role("button", name="Erase customer").click()
    admin.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(admin.get_by_role("dialog")).to_have_count(0)
    assert console.api("customers").get(f"/v1/customers/{customer['id']}/erasure-requests").json() == []
    admin.get_by_label("Grace (days)").fill("400")  # the browser itself refuses it (max 365)
    admin.get_by_role("button", name="Erase customer").click()
    expect(admin.get_by_role("dialog")).to_have_count(0)
    assert admin.get_by_label("Grace (days)").evaluate("e => e.validity.rangeOverflow")
    admin.get_by_label("Grace (days)").fill("")
    admin.get_by_role("button", name="Erase customer").click()
    admin.get_by_role("dialog").get_by_role("button", name="Schedule erasure").click()
    expect(admin.locator(".flash")).to_contain_text("Erasure scheduled for")
    expect(admin.get_by_test_id("erasure-scheduled")).to_contain_text(console.admin.email)
    [scheduled] = console.api("customers").get(f"/v1/customers/{customer['id']}/erasure-requests").json()
    assert scheduled["status"] == "scheduled" and scheduled["grace_days"] == 10

    admin.get_by_role("button", name="Cancel erasure").click()
    expect(admin.locator(".flash")).to_contain_text("Erasure cancelled")
    expect(admin.get_by_test_id("erasure-scheduled")).to_have_count(0)
    assert console.api("customers").get(f"/v1/customers/{customer['id']}").status_code == 200


def test_a_viewer_sees_the_page_but_every_change_is_refused(viewer: Page, console: Console, customer):
    open_page(viewer, customer)
    credit_ready(viewer)
    viewer.get_by_label("New note").fill("A viewer's note")
    viewer.get_by_role("button", name="Add note").click()
    expect(viewer.get_by_role("heading", name="Not allowed")).to_be_visible()
    open_page(viewer, customer)
    credit_ready(viewer)
    viewer.locator("#part-credit").get_by_label("Amount").fill("100")
    viewer.locator("#part-credit").get_by_role("button", name="Save").click()
    expect(viewer.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert console.api("customers").get(f"/v1/customers/{customer['id']}/notes").json()["items"] == []
    assert console.api("ledger").get(f"/v1/accounts/{customer['id']}/entries").json()["items"] == []
