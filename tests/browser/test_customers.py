"""The customers list and adding a customer, in a real browser against the real customers,
groups, ledger and segments services: quick search as you type, every filter, the sorts, the
count, paging, the add form with an error beside its field, and a viewer refused. Every test
arranges customers of its own (a run tag of its own) and filters down to them."""

import re
import uuid
from dataclasses import dataclass

import pytest
from console_support import Console, create_customer, publish, screenshot, wait_until
from playwright.sync_api import Page, expect

from harness import envelope, order_placed


@dataclass
class Run:
    tag: str
    ids: dict[str, str]


@pytest.fixture(scope="module")
def run(console: Console, system) -> Run:
    """Ana (vip, in a group, 1.00 EUR spent), Bruno (a guest with a sales agent, 9.00 EUR
    spent) and Carla (inactive, nothing spent), created in this order."""
    tag = f"t{uuid.uuid4().hex[:8]}"
    agent = console.api("customers").post(
        "/v1/agents", json={"name": f"Agent {tag}", "email": f"agent.{tag}@shop.example"}
    )
    assert agent.status_code == 201, agent.text
    ids = {"agent": agent.json()["id"]}
    for first, extra in [
        ("Ana", {"tags": [tag, "vip"], "company": "Lima Lda"}),
        ("Bruno", {"tags": [tag], "has_account": False, "sales_agent_id": ids["agent"]}),
        ("Carla", {"tags": [tag], "status": "inactive"}),
    ]:
        c = create_customer(
            console,
            email=f"{first.lower()}.{tag}@list.example",
            first_name=first,
            last_name=f"L{tag}",
            **extra,
        )
        ids[first] = c["id"]
    group = console.api("groups").post("/v1/groups", json={"name": f"Wholesale {tag}"})
    assert group.status_code == 201, group.text
    ids["group"] = group.json()["id"]
    groups = console.api("groups")
    wait_until(
        lambda: (
            groups.post(f"/v1/groups/{ids['group']}/customers", json={"add": [ids["Ana"]]}).status_code == 200
        ),
        what="the groups service to know Ana",
    )
    publish(
        system.rabbit_url,
        [
            envelope("order.placed", order_placed(f"ana.{tag}@list.example", total=100)),
            envelope("order.placed", order_placed(f"bruno.{tag}@list.example", total=900)),
        ],
    )
    customers = console.api("customers")

    def spent() -> bool:
        items = customers.get("/v1/customers", params={"tag": tag}).json()["items"]
        return sum(c["stats"]["number_of_orders"] for c in items) == 2 and all(
            ids["group"] in c["group_ids"] for c in items if c["id"] == ids["Ana"]
        )

    wait_until(spent, what="the orders and the group membership to reach the customers service")
    return Run(tag, ids)


def expect_names(page: Page, first_names: list[str]) -> None:
    """The rows shown, in order, by first name (waits for htmx's swap)."""
    cells = page.locator("#results tbody tr td:first-child")
    expect(cells).to_have_text([re.compile(rf"^{n} ") for n in first_names])


def filtered(page: Page, run: Run) -> None:
    page.goto(f"/customers?tag={run.tag}")
    expect(page.get_by_role("status").filter(has_text="customers")).to_have_text("3 customers")


def test_quick_search_as_you_type_and_the_list_columns(admin: Page, run: Run):
    admin.goto("/customers")
    admin.get_by_label("Search by name or e-mail").press_sequentially(f"ana.{run.tag}", delay=20)
    # htmx swaps the results while typing: no submit, and the address follows the search
    expect(admin.locator("#results").get_by_role("status")).to_have_text("1 customer")
    expect(admin).to_have_url(re.compile(rf"q=ana\.{run.tag}"))
    row = admin.locator("#results tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(f"Ana L{run.tag}")
    expect(row).to_contain_text(f"Wholesale {run.tag}")  # the group by its name
    expect(row).to_contain_text(f"ana.{run.tag}@list.example")
    expect(row).to_contain_text("Lima Lda")
    expect(row).to_contain_text("vip")
    expect(row).to_contain_text("1.00 EUR")
    # the plain search (Enter submits the form) finds by the name too
    admin.get_by_label("Search by name or e-mail").fill(f"l{run.tag}")
    admin.get_by_label("Search by name or e-mail").press("Enter")
    expect(admin.locator("#results").get_by_role("status")).to_have_text("3 customers")
    screenshot(admin, "customers-list")


def test_each_filter_and_clear_filters(admin: Page, run: Run):
    filtered(admin, run)
    status = admin.locator("#results").get_by_role("status")
    admin.get_by_label("Type").select_option("false")
    expect(status).to_have_text("1 customer")
    expect_names(admin, ["Bruno"])
    admin.get_by_label("Type").select_option("true")
    expect(status).to_have_text("2 customers")
    admin.get_by_label("Type").select_option("")
    admin.get_by_label("Group").select_option(label=f"Wholesale {run.tag}")
    expect(status).to_have_text("1 customer")
    expect_names(admin, ["Ana"])
    admin.get_by_label("Group").select_option("")
    admin.get_by_label("Status").select_option("inactive")
    expect(status).to_have_text("1 customer")
    expect_names(admin, ["Carla"])
    admin.get_by_label("Status").select_option("")
    admin.get_by_label("Sales agent").select_option(label=f"Agent {run.tag}")
    expect(status).to_have_text("1 customer")
    expect_names(admin, ["Bruno"])
    admin.get_by_label("Tag", exact=True).fill("vip")  # with the agent: nobody
    admin.get_by_label("Tag", exact=True).press("Enter")
    expect(status).to_have_text("0 customers")
    expect(admin.get_by_text("No customer matches these filters.")).to_be_visible()
    admin.get_by_role("link", name="Clear filters").click()
    expect(admin).to_have_url(re.compile(r"/customers$"))
    expect(admin.get_by_label("Sales agent")).to_have_value("")
    expect(admin.get_by_label("Tag", exact=True)).to_have_value("")


def test_sort_by_name_creation_and_total_spent(admin: Page, run: Run):
    filtered(admin, run)
    sort = admin.get_by_label("Sort by")
    for value, expected in [
        ("name", ["Ana", "Bruno", "Carla"]),
        ("-name", ["Carla", "Bruno", "Ana"]),
        ("created_at", ["Ana", "Bruno", "Carla"]),
        ("-created_at", ["Carla", "Bruno", "Ana"]),
        ("-total_spent", ["Bruno", "Ana", "Carla"]),
        ("total_spent", ["Carla", "Ana", "Bruno"]),
    ]:
        sort.select_option(value)
        expect(admin).to_have_url(re.compile(f"sort={re.escape(value)}"))
        expect_names(admin, expected)


def test_paging_next_previous_and_first(admin: Page, run: Run):
    admin.goto(f"/customers?tag={run.tag}&sort=name&limit=1")
    status = admin.locator("#results").get_by_role("status")
    expect(status).to_have_text("3 customers")  # the count is of every match, not of the page
    expect_names(admin, ["Ana"])
    expect(admin.get_by_role("link", name="Previous")).to_have_count(0)
    admin.get_by_role("link", name="Next").click()
    expect(status).to_have_text("3 customers · page 2")
    expect_names(admin, ["Bruno"])
    admin.get_by_role("link", name="Next").click()
    expect(status).to_have_text("3 customers · page 3")
    expect_names(admin, ["Carla"])
    expect(admin.get_by_role("link", name="Next")).to_have_count(0)
    admin.get_by_role("link", name="Previous").click()
    expect(status).to_have_text("3 customers · page 2")
    expect_names(admin, ["Bruno"])
    admin.get_by_role("link", name="Previous").click()
    expect(status).to_have_text("3 customers")
    expect_names(admin, ["Ana"])
    admin.get_by_role("link", name="Next").click()
    admin.get_by_role("link", name="First page").click()
    expect(status).to_have_text("3 customers")
    expect_names(admin, ["Ana"])


def test_add_customer_with_an_error_beside_its_field_then_success(admin: Page, console: Console, run: Run):
    email = f"new.{uuid.uuid4().hex[:8]}@add.example"
    admin.goto("/customers")
    admin.get_by_role("link", name="Add customer").click()
    admin.get_by_label("E-mail").fill(email)
    admin.get_by_label("Password").fill("a long enough password 1")
    admin.get_by_label("First name").fill("Nora")
    admin.get_by_label("Last name").fill(f"New{run.tag}")
    admin.get_by_label("Company").fill("Nora & Co")
    admin.get_by_label("Phone").fill("12345")  # not a phone number
    admin.get_by_label("Note", exact=True).fill("Met at the fair")
    admin.get_by_label("Group").select_option(label=f"Wholesale {run.tag}")
    # the address tabs: arrow keys move between them, each shows its own panel
    billing = admin.get_by_role("tab", name="Billing address")
    expect(billing).to_have_attribute("aria-selected", "true")
    expect(admin.get_by_role("tabpanel", name="Shipping address")).to_be_hidden()
    admin.get_by_role("tabpanel", name="Billing address").get_by_label("Address line 1").fill("Rua B 2")
    admin.get_by_role("tabpanel", name="Billing address").get_by_label("City").fill("Porto")
    admin.get_by_role("tabpanel", name="Billing address").get_by_label("Country code").fill("PT")
    billing.focus()
    admin.keyboard.press("ArrowRight")
    shipping = admin.get_by_role("tab", name="Shipping address")
    expect(shipping).to_be_focused()
    expect(shipping).to_have_attribute("aria-selected", "true")
    expect(admin.get_by_role("tabpanel", name="Billing address")).to_be_hidden()
    panel = admin.get_by_role("tabpanel", name="Shipping address")
    panel.get_by_label("Address line 1").fill("Rua C 3")
    panel.get_by_label("City").fill("Faro")
    screenshot(admin, "customer-new")
    admin.get_by_role("button", name="Add customer").click()
    # the shipping address lacks its country: said beside it, and its tab is the one open
    expect(admin.locator("#f-shipping-country_code-error")).to_have_text("Required for this address")
    expect(admin.get_by_role("tab", name="Shipping address")).to_have_attribute("aria-selected", "true")
    expect(admin.get_by_label("E-mail")).to_have_value(email)  # what was typed stays
    assert console.api("customers").get("/v1/customers", params={"q": email}).json()["items"] == []
    admin.get_by_role("tabpanel", name="Shipping address").get_by_label("Country code").fill("PT")
    admin.get_by_label("Password").fill("a long enough password 1")
    admin.get_by_role("button", name="Add customer").click()
    # the customers service refuses the phone (422, errors[].field): beside the phone
    expect(admin.locator("#f-phone-error")).to_contain_text("phone")
    expect(admin.get_by_label("Phone")).to_have_attribute("aria-invalid", "true")
    assert console.api("customers").get("/v1/customers", params={"q": email}).json()["items"] == []
    admin.get_by_label("Phone").fill("+351912345678")
    admin.get_by_label("Password").fill("a long enough password 1")
    admin.get_by_role("button", name="Add customer").click()

    expect(admin.get_by_role("status").filter(has_text="added")).to_contain_text(f"Customer {email} added.")
    expect(admin.get_by_role("status").filter(has_text="added")).to_contain_text("Added to the group.")
    expect(admin.get_by_role("heading", name=f"Nora New{run.tag}")).to_be_visible()
    expect(admin.locator("#notes")).to_contain_text("Met at the fair")
    expect(admin.locator("#notes")).to_contain_text(console.admin.email)  # the author
    expect(admin.locator("#addresses")).to_contain_text("Rua B 2")
    expect(admin.locator("#addresses")).to_contain_text("Rua C 3")
    expect(admin.locator("#part-groups")).to_contain_text(f"Wholesale {run.tag}")
    c = console.api("customers").get("/v1/customers", params={"q": email}).json()["items"][0]
    assert c["has_account"] and c["phone"] == "+351912345678" and c["company"] == "Nora & Co"


def test_an_email_already_taken_is_said_beside_the_email(admin: Page, run: Run):
    admin.goto("/customers/new")
    admin.get_by_label("E-mail").fill(f"ana.{run.tag}@list.example")
    admin.get_by_label("Password").fill("a long enough password 1")
    admin.get_by_role("button", name="Add customer").click()
    expect(admin.locator("#f-email-error")).to_contain_text("a registered customer with e-mail")


def test_an_account_for_a_guests_email_waits_for_the_owner_to_verify_it(admin: Page, console: Console):
    email = f"guest.{uuid.uuid4().hex[:6]}@add.example"
    guest = create_customer(console, email=email, first_name="Gil", has_account=False)
    admin.goto("/customers/new")
    admin.get_by_label("E-mail").fill(email)
    admin.get_by_label("Password").fill("a long enough password 1")
    admin.get_by_label("First name").fill("Someone Else")
    admin.get_by_role("button", name="Add customer").click()
    expect(admin.locator(".flash")).to_contain_text("verification pending")
    after = console.api("customers").get(f"/v1/customers/{guest['id']}").json()
    assert not after["has_account"] and after["first_name"] == "Gil"  # nothing handed over yet


def test_a_viewer_sees_the_list_but_cannot_add(viewer: Page, console: Console, run: Run):
    filtered(viewer, run)
    email = f"viewer.try.{uuid.uuid4().hex[:6]}@add.example"
    viewer.goto("/customers/new")
    viewer.get_by_label("E-mail").fill(email)
    viewer.get_by_role("button", name="Add customer").click()
    expect(viewer.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert console.api("customers").get("/v1/customers", params={"q": email}).json()["items"] == []
