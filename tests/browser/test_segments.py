"""The segments pages of the console in a real browser, against the real customers and segments
services: the list with member counts, the rule editor (errors at their position, the live
preview), create, edit, delete, the members and the analytics. Every test arranges customers
of its own, tagged with a tag of its own, and its rules select only those."""

import re
import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from console_support import Console, publish, screenshot, wait_until
from playwright.sync_api import Page, expect

from harness import envelope, order_placed


@dataclass
class Shopper:
    first_name: str
    last_name: str
    country: str = "PT"
    orders: list[tuple[int, str]] = field(default_factory=list)  # (total in cents, placed_at)
    id: str = ""
    email: str = ""

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


RECENT = "2026-11-22T10:00:00Z"
LONG_AGO = "2026-03-01T10:00:00Z"  # beyond the 90 days of churn


@pytest.fixture
def tag() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


def arrange(console: Console, system, tag: str, shoppers: list[Shopper]) -> list[Shopper]:
    """The shoppers as customers (tagged `tag`) with their orders, as the segments service sees
    them: created through the customers API, orders as a storefront publishes them."""
    customers, segments = console.api("customers"), console.api("segments")
    for s in shoppers:
        s.email = f"{s.first_name.lower()}.{tag}@shop.example"
        r = customers.post(
            "/v1/customers",
            json={
                "email": s.email,
                "first_name": s.first_name,
                "last_name": s.last_name,
                "has_account": False,
                "tags": [tag],
            },
        )
        assert r.status_code == 201, r.text
        s.id = r.json()["id"]
    orders = [
        envelope(
            "order.placed",
            order_placed(
                s.email,
                placed_at=placed_at,
                total=total,
                customer={
                    "email": s.email,
                    "customer_id": s.id,
                    "first_name": s.first_name,
                    "last_name": s.last_name,
                    "phone": None,
                },
                shipping_address={
                    "first_name": s.first_name,
                    "last_name": s.last_name,
                    "line1": "Rua A 1",
                    "city": "Lisboa",
                    "postal_code": "1000-001",
                    "country_code": s.country,
                },
            ),  # fmt: skip
        )
        for s in shoppers
        for total, placed_at in s.orders
    ]
    publish(system.rabbit_url, orders)
    for s in shoppers:

        def profiled(s: Shopper = s) -> bool:
            r = segments.get(f"/v1/customers/{s.id}/profile")
            return r.status_code == 200 and r.json()["number_of_orders"] == len(s.orders)

        wait_until(profiled, what=f"the profile of {s.email}")
    return shoppers


def create_segment(console: Console, name: str, rule: str, members: int | None = None) -> dict[str, Any]:
    http = console.api("segments")
    r = http.post("/v1/segments", json={"name": name, "rule": rule})
    assert r.status_code == 201, r.text
    seg = r.json()
    if members is not None:
        wait_members(console, seg["id"], members)
    return seg


def wait_members(console: Console, segment_id: str, count: int) -> None:
    """A segment's membership is computed after its rule is saved."""
    http = console.api("segments")
    wait_until(
        lambda: http.get(f"/v1/segments/{segment_id}").json()["member_count"] == count,
        what=f"{count} member(s) in {segment_id}",
    )


def segment_names(console: Console) -> list[str]:
    return [
        s["name"] for s in console.api("segments").get("/v1/segments", params={"limit": 500}).json()["items"]
    ]


def test_the_list_shows_every_segment_with_its_member_count(admin: Page, console: Console, system, tag):
    arrange(console, system, tag, [Shopper("Ana", "Lima", "PT", [(5000, RECENT)]),
                                   Shopper("Bea", "Soto", "ES", [(7000, RECENT)])])  # fmt: skip
    everyone = create_segment(console, f"Everyone {tag}", f"customer_tags CONTAINS '{tag}'", members=2)
    create_segment(
        console, f"Portugal {tag}", f"customer_tags CONTAINS '{tag}' AND country = 'PT'", members=1
    )

    admin.goto("/segments")
    rows = admin.get_by_role("row")
    expect(rows.filter(has_text=f"Everyone {tag}").get_by_test_id("member-count")).to_have_text("2")
    portugal = rows.filter(has_text=f"Portugal {tag}")
    expect(portugal.get_by_test_id("member-count")).to_have_text("1")
    expect(portugal.locator("code.rule")).to_have_text(f"customer_tags CONTAINS '{tag}' AND country = 'PT'")
    screenshot(admin, "segments-list")

    rows.filter(has_text=f"Everyone {tag}").get_by_role("link", name=f"Everyone {tag}", exact=True).click()
    expect(admin).to_have_url(f"{console.url}/segments/{everyone['id']}")
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Everyone {tag}")


def test_a_rule_with_a_syntax_error_is_shown_at_its_position_and_nothing_is_saved(
    admin: Page, console: Console, tag
):
    admin.goto("/segments/new")
    admin.get_by_label("Name").fill(f"Broken {tag}")
    rule = admin.get_by_label("Rule")
    rule.fill("amount_spent >= 100 AND\ncountry == 'PT'")
    admin.get_by_role("button", name="Create segment").click()

    error = admin.locator("#f-rule-error")
    expect(error).to_be_visible()
    expect(error.locator(".rule-message")).to_contain_text("unexpected '='")
    expect(error.locator(".rule-where")).to_have_text("at line 2, column 10")
    # The line the error is on, with the caret under the second '=' (column 10).
    assert error.locator("pre.rule-spot").text_content() == "country == 'PT'\n         ^"
    expect(rule).to_have_attribute("aria-invalid", "true")
    assert "f-rule-error" in (rule.get_attribute("aria-describedby") or "").split()
    # What was typed is kept, and nothing was saved.
    expect(rule).to_have_value("amount_spent >= 100 AND\ncountry == 'PT'")
    expect(admin.get_by_label("Name")).to_have_value(f"Broken {tag}")
    assert f"Broken {tag}" not in segment_names(console)
    screenshot(admin, "segment-rule-error")

    # The same form, corrected, saves.
    rule.fill(f"amount_spent >= 100 AND\ncountry = 'PT' AND customer_tags CONTAINS '{tag}'")
    admin.get_by_role("button", name="Create segment").click()
    expect(admin.get_by_role("status")).to_contain_text(f"Segment “Broken {tag}” created.")
    assert segment_names(console).count(f"Broken {tag}") == 1


def test_the_live_preview_counts_the_customers_as_the_rule_is_typed(
    admin: Page, console: Console, system, tag
):
    arrange(console, system, tag, [Shopper("Cid", "Reis", "PT", [(5000, RECENT)]),
                                   Shopper("Dora", "Melo", "PT", [(15000, RECENT)]),
                                   Shopper("Eva", "Cruz", "ES", [(25000, RECENT)])])  # fmt: skip
    before = len(segment_names(console))
    admin.goto("/segments/new")
    expect(admin.locator("#rule-preview")).to_contain_text("Type a rule")
    rule = admin.get_by_label("Rule")
    rule.press_sequentially(f"customer_tags CONTAINS '{tag}'")
    expect(admin.get_by_test_id("preview-count")).to_have_text("3")
    rule.press_sequentially(" AND amount_spent >= 100")
    expect(admin.get_by_test_id("preview-count")).to_have_text("2")
    expect(admin.locator("#rule-preview")).to_contain_text("2 customers match now.")
    rule.press_sequentially(" AND country = 'ES'")
    expect(admin.locator("#rule-preview")).to_contain_text("1 customer matches now.")

    # Half typed: the preview says what is wrong, and where.
    rule.press_sequentially(" AND")
    preview = admin.locator("#rule-preview")
    expect(preview.locator(".rule-where")).to_have_text(f"at line 1, column {len(rule.input_value()) + 1}")
    expect(preview.locator(".rule-message")).to_contain_text("unexpected end of rule")
    # The caret stands just after the last character typed (the rule ends too soon).
    excerpt, caret = (preview.locator("pre.rule-spot").text_content() or "").split("\n")
    assert excerpt.endswith("country = 'ES' AND") and caret == " " * len(excerpt) + "^"
    # A preview saves nothing.
    assert len(segment_names(console)) == before


def test_create_then_edit_a_segment_and_see_its_members(admin: Page, console: Console, system, tag):
    ana, bea = arrange(console, system, tag, [Shopper("Flor", "Dias", "PT", [(10000, RECENT)]),
                                              Shopper("Gil", "Vaz", "ES", [(4000, RECENT), (3000, RECENT)])])  # fmt: skip
    admin.goto("/segments")
    admin.get_by_role("link", name="New segment").click()
    admin.get_by_label("Name").fill(f"Portugal {tag}")
    admin.get_by_label("Rule").fill(f"customer_tags CONTAINS '{tag}' AND country = 'PT'")
    expect(admin.get_by_test_id("preview-count")).to_have_text("1")
    admin.get_by_role("button", name="Create segment").click()
    expect(admin.get_by_role("status")).to_contain_text(f"Segment “Portugal {tag}” created.")
    segment_id = admin.url.rsplit("/", 1)[-1].split("?")[0]
    wait_members(console, segment_id, 1)
    admin.reload()
    members = admin.locator("table.members tbody tr")
    expect(members).to_have_count(1)
    expect(members.first).to_contain_text(ana.name)
    expect(members.first).to_contain_text(ana.email)

    admin.get_by_role("link", name="Edit", exact=True).click()
    expect(admin.get_by_label("Name")).to_have_value(f"Portugal {tag}")
    expect(admin.get_by_test_id("preview-count")).to_have_text("1")  # the saved rule, counted on load
    admin.get_by_label("Name").fill(f"Iberia {tag}")
    admin.get_by_label("Rule").fill(f"customer_tags CONTAINS '{tag}' AND country IS NOT NULL")
    expect(admin.get_by_test_id("preview-count")).to_have_text("2")
    screenshot(admin, "segment-edit")
    admin.get_by_role("button", name="Save").click()
    expect(admin.get_by_role("status")).to_contain_text(f"Segment “Iberia {tag}” saved.")
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Iberia {tag}")
    wait_members(console, segment_id, 2)
    admin.reload()
    expect(admin.get_by_test_id("member-count")).to_have_text("2")
    expect(members).to_have_count(2)
    for s in (ana, bea):
        row = members.filter(has_text=s.email)
        expect(row).to_contain_text(s.name)
        expect(row.get_by_role("link", name=s.name)).to_have_attribute("href", f"/customers/{s.id}")
    seg = console.api("segments").get(f"/v1/segments/{segment_id}").json()
    assert seg["version"] == 2 and seg["rule"] == f"customer_tags CONTAINS '{tag}' AND country IS NOT NULL"


def test_a_failed_edit_changes_nothing(admin: Page, console: Console, tag):
    seg = create_segment(console, f"Stable {tag}", f"customer_tags CONTAINS '{tag}'")
    admin.goto(f"/segments/{seg['id']}/edit")
    admin.get_by_label("Name").fill(f"Renamed {tag}")
    admin.get_by_label("Rule").fill(f"customer_tags CONTAINS '{tag}' AND bogus = 1")
    admin.get_by_role("button", name="Save").click()
    column = f"customer_tags CONTAINS '{tag}' AND bogus = 1".index("bogus") + 1
    expect(admin.locator("#f-rule-error .rule-message")).to_have_text(
        f"unknown attribute 'bogus' at line 1, column {column}"
    )
    expect(admin.get_by_label("Name")).to_have_value(f"Renamed {tag}")  # kept, not saved
    after = console.api("segments").get(f"/v1/segments/{seg['id']}").json()
    assert (after["name"], after["rule"], after["version"]) == (seg["name"], seg["rule"], 1)


def test_the_members_list_pages_with_cursors(admin: Page, console: Console, system, tag):
    shoppers = arrange(console, system, tag, [Shopper(f"P{i:02d}x", "Many") for i in range(27)])
    seg = create_segment(console, f"Many {tag}", f"customer_tags CONTAINS '{tag}'", members=27)
    admin.goto(f"/segments/{seg['id']}")
    rows = admin.locator("table.members tbody tr")
    expect(rows).to_have_count(25)
    admin.get_by_role("link", name="Next page").click()
    expect(rows).to_have_count(2)
    expect(admin.get_by_role("link", name="Next page")).to_have_count(0)
    seen = {s.email for s in shoppers}
    shown = set(admin.locator("table.members tbody tr td:nth-child(2)").all_inner_texts())
    assert shown <= seen and len(shown) == 2
    admin.get_by_role("link", name="First page").click()
    expect(rows).to_have_count(25)


def test_deleting_a_segment_asks_first(admin: Page, console: Console, tag):
    seg = create_segment(console, f"Doomed {tag}", f"customer_tags CONTAINS '{tag}'")
    admin.goto(f"/segments/{seg['id']}")
    admin.get_by_role("button", name="Delete").click()
    dialog = admin.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Delete the segment “Doomed {tag}”?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert console.api("segments").get(f"/v1/segments/{seg['id']}").status_code == 200

    admin.get_by_role("button", name="Delete").click()
    admin.get_by_role("dialog").get_by_role("button", name="Delete segment").click()
    expect(admin).to_have_url(re.compile(r"/segments\?flash="))
    expect(admin.get_by_role("status")).to_contain_text(f"Segment “Doomed {tag}” deleted.")
    expect(admin.get_by_text(f"Doomed {tag}", exact=True)).to_have_count(0)
    assert console.api("segments").get(f"/v1/segments/{seg['id']}").status_code == 404


def test_the_analytics_of_a_segment_match_its_orders(admin: Page, console: Console, system, tag):
    arrange(console, system, tag, [Shopper("Hugo", "Sa", "PT", [(10000, RECENT), (5000, RECENT)]),
                                   Shopper("Ines", "Ruas", "PT", [(3000, RECENT)]),
                                   Shopper("Joao", "Paz", "ES", [(2000, LONG_AGO)])])  # fmt: skip
    seg = create_segment(console, f"Analysed {tag}", f"customer_tags CONTAINS '{tag}'")
    admin.goto("/segments/analytics")
    expect(admin.get_by_role("heading", level=1)).to_have_text("Analytics of all customers")
    admin.get_by_label("Segment", exact=True).select_option(label=f"Analysed {tag}")
    admin.get_by_role("button", name="Show").click()
    expect(admin).to_have_url(f"{console.url}/segments/analytics?segment_id={seg['id']}&churn_days=90")
    expect(admin.get_by_role("heading", level=1)).to_have_text(f"Analytics: Analysed {tag}")

    figures = admin.get_by_test_id("figures")

    def figure(label: str):
        return (
            figures.get_by_role("row")
            .filter(has=admin.get_by_role("rowheader", name=label, exact=True))
            .locator("td")
        )

    expect(figure("Customers")).to_have_text("3")
    expect(figure("Buyers (one order or more)")).to_have_text("3")
    expect(figure("Total spent")).to_have_text("200.00 EUR")
    expect(figure("Average order value")).to_have_text("50.00 EUR")  # 200 EUR over 4 orders
    expect(figure("Average lifetime value (per buyer)")).to_have_text("66.66 EUR")  # rounded down
    expect(figure("Repeat purchase rate")).to_have_text("33.3 %")
    expect(figure("New customers (one order)")).to_have_text("2")
    expect(figure("Returning customers (two orders or more)")).to_have_text("1")
    expect(figure("Churned (no order for 90 days)")).to_have_text("1 (33.3 % of buyers)")

    countries = admin.get_by_role("img", name="Customers per country")
    expect(countries).to_be_visible()
    expect(countries.locator("desc")).to_have_text("Customers per country: PT 2, ES 1")
    expect(countries.locator("rect")).to_have_count(2)
    kinds = admin.get_by_role("img", name="Customers by orders placed")
    expect(kinds.locator("desc")).to_have_text(
        "Customers by orders placed: New (1 order) 2, Returning (2+) 1, No order yet 0"
    )
    table = admin.locator("table.countries tbody tr")
    expect(table).to_have_text(["PT2", "ES1"])
    screenshot(admin, "segment-analytics")

    # A longer churn window: nobody has been away that long.
    admin.get_by_label("Churned after (days without an order)").fill("365")
    admin.get_by_role("button", name="Show").click()
    expect(figure("Churned (no order for 365 days)")).to_have_text("0 (0.0 % of buyers)")


def test_a_viewer_sees_the_segments_but_may_change_nothing(viewer: Page, console: Console, tag):
    seg = create_segment(console, f"Watched {tag}", f"customer_tags CONTAINS '{tag}'")
    viewer.goto("/segments")
    expect(viewer.get_by_role("row").filter(has_text=f"Watched {tag}")).to_be_visible()
    viewer.goto(f"/segments/{seg['id']}")
    viewer.get_by_role("button", name="Delete").click()
    viewer.get_by_role("dialog").get_by_role("button", name="Delete segment").click()
    expect(viewer.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert console.api("segments").get(f"/v1/segments/{seg['id']}").status_code == 200

    viewer.goto(f"/segments/{seg['id']}/edit")
    viewer.get_by_label("Rule").fill(f"customer_tags CONTAINS '{tag}' AND country = 'PT'")
    expect(viewer.locator("#rule-preview")).to_contain_text("0 customers match now.")  # reading is allowed
    viewer.get_by_role("button", name="Save").click()
    expect(viewer.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert console.api("segments").get(f"/v1/segments/{seg['id']}").json()["version"] == 1

    viewer.goto("/segments/new")
    viewer.get_by_label("Name").fill(f"Sneaky {tag}")
    viewer.get_by_label("Rule").fill("amount_spent >= 1")
    viewer.get_by_role("button", name="Create segment").click()
    expect(viewer.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert f"Sneaky {tag}" not in segment_names(console)
