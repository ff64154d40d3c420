"""The customer groups pages of the console (issue 14): list and search, create, rename in a
side panel, the customer picker, removing members with the R key, the metadata editor, pricing,
deleting a group, and a viewer refused. Against the real customers and groups services: a
customer the console adds has travelled customers -> broker -> groups first."""

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from console_support import Console, screenshot, sign_in
from playwright.sync_api import Browser, Page, expect

NAME = re.compile(r"^Name\b")  # the label is "Name *" (required)


def tag() -> str:
    return uuid.uuid4().hex[:8]


def make_group(console: Console, name: str | None = None, **fields: Any) -> dict[str, Any]:
    with console.api("groups") as http:
        r = http.post("/v1/groups", json={"name": name or f"Group {tag()}", **fields})
        assert r.status_code == 201, r.text
        return r.json()


def make_customer(console: Console, first: str, last: str) -> dict[str, Any]:
    """A customer the groups service knows (it hears of customers by event: waits for that)."""
    with console.api("customers") as http:
        r = http.post(
            "/v1/customers",
            json={
                "email": f"{first}.{last}.{tag()}@shop.example".lower(),
                "first_name": first,
                "last_name": last,
            },
        )
        assert r.status_code == 201, r.text
        customer = r.json()
    with console.api("groups") as http:
        deadline = time.monotonic() + 15
        while http.get(f"/v1/customers/{customer['id']}/groups").status_code == 404:
            assert time.monotonic() < deadline, "the groups service never heard of the customer"
            time.sleep(0.1)  # arranging data only: the pages are checked with expect()
    return customer


def add_members(console: Console, group_id: str, *customers: dict[str, Any]) -> None:
    with console.api("groups") as http:
        r = http.post(f"/v1/groups/{group_id}/customers", json={"add": [c["id"] for c in customers]})
        assert r.status_code == 200, r.text


def member_ids(console: Console, group_id: str) -> set[str]:
    with console.api("groups") as http:
        return {m["customer_id"] for m in http.get(f"/v1/groups/{group_id}/customers").json()["items"]}


def get_group(console: Console, group_id: str) -> dict[str, Any]:
    with console.api("groups") as http:
        return http.get(f"/v1/groups/{group_id}").json()


def test_the_list_searches_by_name_shows_member_counts_and_creates_a_group(admin: Page, console: Console):
    t = tag()
    alpha = make_group(console, f"Alpha wholesale {t}", description="Trade buyers")
    make_group(console, f"Beta retail {t}")
    add_members(console, alpha["id"], make_customer(console, "Ada", f"List{t}"))

    admin.goto("/groups")
    admin.get_by_label("Search by name").fill(f"WHOLESALE {t}")  # part of the name, any case
    admin.get_by_label("Search by name").press("Enter")
    rows = admin.locator("table.groups tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(f"Alpha wholesale {t}")
    expect(rows.first.locator("td.num")).to_have_text("1")
    admin.get_by_label("Search by name").fill(t)
    admin.get_by_label("Search by name").press("Enter")
    expect(rows).to_have_count(2)
    screenshot(admin, "groups-list")

    # A taken name (whatever its case) is said beside the field, and nothing is created.
    admin.get_by_label(NAME).fill(f"beta RETAIL {t}")
    admin.get_by_role("button", name="Create group").click()
    expect(admin.locator("#f-name-error")).to_contain_text("exists")
    expect(admin.get_by_label(NAME)).to_have_value(f"beta RETAIL {t}")

    admin.get_by_label(NAME).fill(f"Gamma {t}")
    admin.get_by_label("Description").fill("Made in the console")
    admin.get_by_role("button", name="Create group").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Gamma {t}")
    expect(admin.get_by_role("status")).to_contain_text("created")
    expect(admin.locator("#group-description")).to_have_text("Made in the console")


def test_the_name_is_edited_in_a_side_panel(admin: Page, console: Console):
    t = tag()
    group = make_group(console, f"Panel {t}")
    make_group(console, f"Taken {t}")
    admin.goto(f"/groups/{group['id']}")

    admin.get_by_role("link", name="Edit name").click()
    panel = admin.get_by_role("dialog", name="Edit group")
    expect(panel).to_be_visible()
    expect(panel.get_by_label("Name")).to_be_focused()  # the focus moves into the panel
    admin.keyboard.press("Escape")
    expect(panel).to_have_count(0)
    expect(admin.get_by_role("link", name="Edit name")).to_be_focused()

    admin.get_by_role("link", name="Edit name").click()
    panel.get_by_role("link", name="Cancel").click()
    expect(panel).to_have_count(0)

    admin.get_by_role("link", name="Edit name").click()
    panel.get_by_label("Name").fill(f"taken {t}")
    panel.get_by_role("button", name="Save").click()
    expect(panel.locator("#f-name-error")).to_contain_text("exists")
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Panel {t}")

    panel.get_by_label("Name").fill(f"Renamed {t}")
    panel.get_by_role("button", name="Save").click()
    expect(panel).to_have_count(0)
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Renamed {t}")
    admin.reload()
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Renamed {t}")
    assert get_group(console, group["id"])["name"] == f"Renamed {t}"


def test_the_picker_adds_two_customers_and_r_removes_a_selected_one(admin: Page, console: Console):
    t = tag()
    group = make_group(console, f"Picker {t}")
    ann = make_customer(console, "Ann", f"Pick{t}")
    bob = make_customer(console, "Bob", f"Pick{t}")
    make_customer(console, "Cy", f"Pick{t}")
    admin.goto(f"/groups/{group['id']}")

    admin.get_by_label("Find customers by name or e-mail").fill(f"Pick{t}")  # htmx, as it is typed
    results = admin.locator("#picker-results")
    expect(results.get_by_role("checkbox")).to_have_count(3)
    results.get_by_label(f"Ann Pick{t}").check()
    results.get_by_label(f"Bob Pick{t}").check()
    results.get_by_role("button", name="Add selected").click()
    expect(admin.get_by_role("status")).to_have_text("2 customer(s) added.")
    members = admin.locator("table.members tbody tr")
    expect(members).to_have_count(2)
    assert member_ids(console, group["id"]) == {ann["id"], bob["id"]}

    admin.keyboard.press("r")  # nothing ticked yet: said, and nothing asked or sent
    expect(admin.locator("[data-selection-note]")).to_have_text("Tick the members to remove first.")
    expect(admin.get_by_role("dialog")).to_have_count(0)
    admin.get_by_label("Select every member on this page").check()
    expect(admin.locator("table.members").get_by_label(f"Bob Pick{t}")).to_be_checked()
    admin.get_by_label("Select every member on this page").uncheck()

    admin.locator("table.members").get_by_label(f"Ann Pick{t}").check()
    admin.keyboard.press("r")  # the focus is on the checkbox: R still means Remove
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_contain_text("Remove the selected members")
    dialog.get_by_role("button", name="Remove").click()
    expect(admin.get_by_role("status")).to_have_text("1 member(s) removed.")
    expect(members).to_have_count(1)
    expect(members.first).to_contain_text(f"Bob Pick{t}")
    assert member_ids(console, group["id"]) == {bob["id"]}


def _row(page: Page, n: int):
    return page.locator("form.metadata tbody tr").nth(n)


def test_the_metadata_editor_inserts_deletes_and_saves_rows(admin: Page, console: Console):
    t = tag()
    group = make_group(console, f"Metadata {t}", metadata={"erp:id": "W-1", "tier": 2}, description="Trade")
    add_members(
        console,
        group["id"],
        make_customer(console, "Dee", f"Meta{t}"),
        make_customer(console, "Eve", f"Meta{t}"),
    )
    admin.goto(f"/groups/{group['id']}")
    expect(admin.locator("table.members tbody tr")).to_have_count(2)
    screenshot(admin, "group")

    expect(admin.get_by_label("Key, row 1")).to_have_value("erp:id")
    _row(admin, 0).get_by_role("button", name="Insert row above").click()
    expect(admin.get_by_label("Key, row 1")).to_be_focused()
    expect(admin.get_by_label("Key, row 2")).to_have_value("erp:id")  # renumbered
    admin.get_by_label("Key, row 1").fill("source")
    admin.get_by_label("Value, row 1").fill("trade fair")
    _row(admin, 2).get_by_role("button", name="Insert row below").click()
    admin.get_by_label("Key, row 4").fill("region")
    admin.get_by_label("Value, row 4").fill("north")
    _row(admin, 1).get_by_role("button", name="Delete row").click()  # erp:id goes
    expect(admin.locator("form.metadata tbody tr")).to_have_count(3)
    screenshot(admin, "group-metadata")
    admin.get_by_role("button", name="Save metadata").click()
    expect(admin.get_by_role("status")).to_have_text("Metadata saved.")

    admin.reload()
    # The rows as saved (in the service's order: metadata is an object, its keys unordered).
    expect(admin.locator("form.metadata tbody tr")).to_have_count(3)
    shown = {
        admin.get_by_label(f"Key, row {i}").input_value(): admin.get_by_label(f"Value, row {i}").input_value()
        for i in (1, 2, 3)
    }
    assert shown == {"source": "trade fair", "tier": "2", "region": "north"}
    # The number stayed a number: the table shows it as text, an unchanged value keeps its type.
    assert get_group(console, group["id"])["metadata"] == {
        "source": "trade fair",
        "tier": 2,
        "region": "north",
    }

    # A key over 40 characters: the error beside its row, and nothing saved (not even the rest).
    _row(admin, 2).get_by_role("button", name="Insert row below").click()
    admin.get_by_label("Key, row 4").fill("k" * 41)
    admin.get_by_label("Value, row 4").fill("x")
    tier_row = [k for k in shown].index("tier") + 1
    admin.get_by_label(f"Value, row {tier_row}").fill("3")
    admin.get_by_role("button", name="Save metadata").click()
    expect(_row(admin, 3).locator(".error")).to_contain_text("1 to 40 characters")
    expect(_row(admin, 3).get_by_role("textbox").first).to_have_value("k" * 41)  # kept for fixing
    expect(_row(admin, 0).locator(".error")).to_have_count(0)
    assert get_group(console, group["id"])["metadata"] == {
        "source": "trade fair",
        "tier": 2,
        "region": "north",
    }


def test_group_prices_are_added_and_deleted_and_terms_saved(admin: Page, console: Console):
    group = make_group(console, f"Pricing {tag()}")
    admin.goto(f"/groups/{group['id']}")
    form = admin.locator("form[action$='/prices']")
    form.get_by_label("SKU").fill("TEA-1")
    form.get_by_label("Currency").fill("eur")
    form.get_by_label("Fixed price").fill("12.505")
    form.get_by_role("button", name="Add price").click()
    expect(admin.locator("#f-amount-error")).to_contain_text("decimals")
    expect(admin.get_by_label("SKU")).to_have_value("TEA-1")

    admin.get_by_label("Fixed price").fill("12.50")
    admin.get_by_role("button", name="Add price").click()
    expect(admin.get_by_role("status")).to_have_text("Price added.")
    prices = admin.locator("table.prices tbody tr")
    expect(prices.first).to_contain_text("12.50 EUR")
    with console.api("groups") as http:
        [price] = http.get(f"/v1/groups/{group['id']}/prices").json()["items"]
    assert (price["sku"], price["currency"], price["amount"]) == ("TEA-1", "EUR", 1250)

    admin.get_by_label("Or percent off").fill("10")
    admin.get_by_role("button", name="Add price").click()
    expect(prices).to_have_count(2)
    expect(prices.filter(has_text="10 % off")).to_contain_text("every SKU")

    prices.filter(has_text="TEA-1").get_by_role("button", name="Delete the price of TEA-1 in EUR").click()
    admin.get_by_role("dialog").get_by_role("button", name="Delete price").click()
    expect(admin.get_by_role("status")).to_have_text("Price deleted.")
    expect(prices).to_have_count(1)
    expect(prices.first).to_contain_text("10 % off")

    admin.get_by_label("Payment terms (net days)").fill("30")
    admin.get_by_label("Currency, limit 1").fill("EUR")
    admin.get_by_label("Amount, limit 1").fill("500")
    admin.get_by_role("button", name="Save discount and terms").click()
    expect(admin.get_by_role("status")).to_have_text("Pricing and terms saved.")
    expect(admin.locator("dl.facts")).to_contain_text("net 30 days")
    expect(admin.locator("dl.facts")).to_contain_text("500.00 EUR")
    saved = get_group(console, group["id"])
    assert saved["payment_terms_days"] == 30 and saved["credit_limits"] == [
        {"currency": "EUR", "amount": 50000}
    ]


def test_deleting_a_group_asks_first_and_keeps_its_customers(admin: Page, console: Console):
    t = tag()
    group = make_group(console, f"Doomed {t}")
    fay = make_customer(console, "Fay", f"Del{t}")
    add_members(console, group["id"], fay)
    admin.goto(f"/groups/{group['id']}")

    admin.get_by_role("button", name="Delete group").click()
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_contain_text("cannot be undone")
    expect(dialog).to_contain_text("1 customer(s) are kept")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert get_group(console, group["id"])["name"] == f"Doomed {t}"

    admin.get_by_role("button", name="Delete group").click()
    admin.get_by_role("dialog").get_by_role("button", name="Delete group").click()
    expect(admin).to_have_url(re.compile(r"/groups\?flash="))  # back to the list
    expect(admin.get_by_role("status")).to_contain_text("deleted")
    with console.api("groups") as http:
        assert http.get(f"/v1/groups/{group['id']}").status_code == 404
    with console.api("customers") as http:
        assert http.get(f"/v1/customers/{fay['id']}").status_code == 200


def test_a_viewer_sees_a_group_but_every_change_is_refused(viewer: Page, console: Console):
    t = tag()
    group = make_group(console, f"Look only {t}", metadata={"k": "v"})
    viewer.goto(f"/groups/{group['id']}")
    expect(viewer.get_by_role("heading", level=1)).to_have_text(f"Look only {t}")
    expect(viewer.get_by_label("Key, row 1")).to_have_value("k")

    # A change through htmx (the side panel): refused in the banner, the page stays.
    viewer.get_by_role("link", name="Edit name").click()
    viewer.get_by_role("dialog", name="Edit group").get_by_label("Name").fill(f"Changed {t}")
    viewer.get_by_role("dialog", name="Edit group").get_by_role("button", name="Save").click()
    expect(viewer.locator("#banner")).to_contain_text("Not allowed")
    expect(viewer.get_by_role("heading", level=1)).to_have_text(f"Look only {t}")
    viewer.keyboard.press("Escape")  # the panel stays open (what was typed is kept) until closed

    viewer.get_by_role("button", name="Delete group").click()
    viewer.get_by_role("dialog").get_by_role("button", name="Delete group").click()
    expect(viewer.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(viewer.get_by_text("you can look, not change").first).to_be_visible()
    assert get_group(console, group["id"])["name"] == f"Look only {t}"

    viewer.goto("/groups")
    viewer.get_by_label(NAME).fill(f"Viewer made {t}")
    viewer.get_by_role("button", name="Create group").click()
    expect(viewer.get_by_role("heading", name="Not allowed")).to_be_visible()
    with console.api("groups") as http:
        assert http.get("/v1/groups", params={"q": f"Viewer made {t}"}).json()["items"] == []


# Without JavaScript (or before htmx has loaded): the same forms as plain HTML forms.


@pytest.fixture
def plain(browser: Browser, console: Console) -> Iterator[Page]:
    ctx = browser.new_context(base_url=console.url, java_script_enabled=False)
    yield sign_in(ctx.new_page(), console.admin)
    ctx.close()


def test_rename_picker_and_metadata_work_as_plain_forms(plain: Page, console: Console):
    t = tag()
    group = make_group(console, f"Plain {t}")
    ida = make_customer(console, "Ida", f"Plain{t}")
    plain.goto(f"/groups/{group['id']}")

    plain.get_by_role("link", name="Edit name").click()
    expect(plain).to_have_url(f"{console.url}/groups/{group['id']}/edit")
    plain.get_by_role("dialog", name="Edit group").get_by_label("Name").fill(f"Plain renamed {t}")
    plain.get_by_role("dialog", name="Edit group").get_by_role("button", name="Save").click()
    expect(plain.get_by_role("status")).to_have_text("Saved.")
    expect(plain.get_by_role("heading", level=1)).to_have_text(f"Plain renamed {t}")

    plain.get_by_label("Find customers by name or e-mail").fill(f"Plain{t}")
    plain.get_by_role("button", name="Search", exact=True).click()
    plain.locator("#picker-results").get_by_label(f"Ida Plain{t}").check()
    plain.get_by_role("button", name="Add selected").click()
    expect(plain.get_by_role("status")).to_have_text("1 customer(s) added.")
    assert member_ids(console, group["id"]) == {ida["id"]}

    plain.get_by_label("Key, row 1").fill("erp:id")
    plain.get_by_label("Value, row 1").fill("P-1")
    plain.get_by_role("button", name="Save metadata").click()
    expect(plain.get_by_role("status")).to_have_text("Metadata saved.")
    expect(plain.get_by_label("Key, row 1")).to_have_value("erp:id")


def test_without_javascript_a_delete_still_asks_first_on_a_page(plain: Page, console: Console):
    group = make_group(console, f"No-JS {tag()}")
    plain.goto(f"/groups/{group['id']}")
    plain.get_by_role("button", name="Delete group").click()
    expect(plain.get_by_role("heading", name="Are you sure?")).to_be_visible()
    expect(plain.get_by_text("This cannot be undone")).to_be_visible()
    assert console.api("groups").get(f"/v1/groups/{group['id']}").status_code == 200  # not yet
    plain.get_by_role("button", name="Delete group").click()
    expect(plain.get_by_role("status")).to_contain_text("deleted")
    assert console.api("groups").get(f"/v1/groups/{group['id']}").status_code == 404
