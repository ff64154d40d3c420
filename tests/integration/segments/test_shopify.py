"""Segments pasted from Shopify: its filter names, functions and named dates, run by the real
service on a dataset built here. What each segment should hold is computed here, independently,
from the customers as the test defines them (not from the service's profiles). The store's time
zone is UTC+14, so "today" is not the UTC day for most of the day.

The segments are created after the customers are in (the batch computation, "backfill"), then
customers change and the segments follow (the live re-check), checkout.abandoned included."""

import asyncio
import calendar
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from harness import Broker, envelope, eventually
from segments_support import Customer, Order, ledger_entry

TZ_NAME = "Pacific/Kiritimati"
TZ = ZoneInfo(TZ_NAME)
NOW = datetime.now(UTC)
TODAY = NOW.astimezone(TZ).date()


@dataclass
class Shopper(Customer):
    """A customer with the fields the Shopify filters read."""

    status: str = "enabled"
    birthday: date | None = None
    gender: str | None = None
    credit: int = 0  # store credit in EUR cents
    checkouts: list[datetime] = field(default_factory=list)

    def state(self) -> dict[str, Any]:
        return {
            **super().state(),
            "status": self.status,
            "birthday": self.birthday.isoformat() if self.birthday else None,
            "gender": self.gender,
        }


def born(days_from_today: int) -> date:
    """A birthday (in 1992, a leap year) that falls `days_from_today` after today, in the store's zone."""
    d = TODAY + timedelta(days=days_from_today)
    return d.replace(year=1992)


def ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def build() -> list[Shopper]:
    def orders(*specs: tuple[int, float, str]) -> list[Order]:
        out = []
        for total, days, sku in specs:
            o = Order(total, days_ago=days, skus=(sku,))
            out.append(o)
        return out

    return [
        Shopper(
            email="ana@Gmail.com",
            country="US",
            city="New York City",
            has_account=True,
            tags=["vip"],
            birthday=born(5),
            gender="female",
            created_at=ago(400),
            orders=orders(
                (50000, 2, "SKU-7"),
                (30000, 20, "SKU-9"),
                (25000, 60, "SKU-1"),
                (150000, 90, "SKU-4"),
                (100000, 120, "SKU-4"),
            ),
            credit=1500,
            checkouts=[ago(2)],
        ),
        Shopper(
            email="bo@example.com",
            country="US",
            city="Boston",
            has_account=True,
            status="inactive",
            birthday=born(0),
            created_at=ago(10),
            orders=orders((9999, 45, "SKU-9")),
        ),
        Shopper(
            email="cy@gmail.com",
            country="PT",
            city="Lisboa",
            email_subscribed=False,
            birthday=born(-3),
            gender="male",
            created_at=ago(0.01),
            orders=orders((100, 400, "SKU-1"), (200, 380, "SKU-1")),
            checkouts=[ago(10)],
        ),
        Shopper(
            email="di@shop.pt",
            country=None,
            city=None,
            has_account=True,
            birthday=born(40),
            created_at=ago(1),
        ),
        Shopper(
            email="ed@example.com",
            country="ES",
            city="Madrid",
            tags=["vip", "b2b"],
            created_at=ago(95),
            orders=orders(
                (120000, 5, "SKU-7"), (80000, 8, "SKU-2"), (70000, 12, "SKU-2"), (65000, 15, "SKU-3")
            ),
            credit=0,
        ),
        Shopper(
            email="fa@example.com",
            country="US",
            city="new-york city",
            email_subscribed=False,
            created_at=ago(200),
            orders=orders((1500, 150, "SKU-3")),
            birthday=born(30),
            credit=300,
        ),
        Shopper(
            email="gu@gmail.com",
            country="FR",
            city="Paris",
            created_at=ago(31),
            orders=orders((45000, 250, "SKU-2"), (40000, 260, "SKU-4"), (52000, 270, "SKU-5")),
        ),
    ]


# --- the expected members, computed from the shoppers ---------------------------------------


def local_day(t: datetime) -> date:
    return t.astimezone(TZ).date()


def celebrated(b: date | None, first: date, last: date) -> bool:
    if b is None:
        return False
    d = first
    while d <= last:
        if (d.month, d.day) == (b.month, b.day):
            return True
        if (b.month, b.day) == (2, 29) and (d.month, d.day) == (2, 28) and not calendar.isleap(d.year):
            return True
        d += timedelta(days=1)
    return False


def rfm_groups(people: list[Shopper]) -> dict[str, str]:
    """Scores as GET /analytics/rfm defines them, then the named groups of the README's table."""
    buyers = [c for c in people if c.orders]
    n = len(buyers)
    metrics = {
        c.id: (max(o.placed_at for o in c.orders), len(c.orders), sum(o.total for o in c.orders))
        for c in buyers
    }

    def score(i: int, value: Any) -> int:
        return 1 + 5 * sum(1 for m in metrics.values() if m[i] < value) // n

    groups = {c.id: "prospects" for c in people if not c.orders}
    for cid, m in metrics.items():
        r, f, mon = (score(i, m[i]) for i in range(3))
        fm = -(-(f + mon) // 2)
        table = [
            ("champions", r == 5 and fm >= 4),
            ("loyal", r in (3, 4) and fm >= 4),
            ("active", r >= 4 and fm == 3),
            ("new", r == 5 and fm <= 2),
            ("promising", r == 4 and fm <= 2),
            ("needs_attention", r == 3 and fm <= 3),
            ("previously_loyal", r <= 2 and fm == 5),
            ("at_risk", r <= 2 and fm == 4),
            ("almost_lost", r == 2 and fm <= 3),
            ("dormant", r == 1 and fm <= 3),
        ]
        groups[cid] = next(name for name, fits in table if fits)
    return groups


def city_code(city: str | None) -> str:
    return "".join(ch for ch in (city or "") if ch.isalnum()).lower()


def _months_back(t: datetime, months: int) -> datetime:
    y, m = divmod(t.month - 1 - months, 12)
    year, month = t.year + y, m + 1
    return t.replace(year=year, month=month, day=min(t.day, calendar.monthrange(year, month)[1]))


def spent(c: Shopper) -> int:
    return sum(o.total for o in c.orders)


def last_order(c: Shopper) -> datetime | None:
    return max((o.placed_at for o in c.orders), default=None)


EXPECTED = {
    "customer_countries CONTAINS 'US'": lambda c: c.country == "US",
    "customer_countries NOT CONTAINS 'us'": lambda c: c.country != "US",
    "customer_cities CONTAINS 'US-NY-NewYorkCity'": lambda c: (
        c.country == "US" and city_code(c.city) == "newyorkcity"
    ),
    "customer_email_domain = 'gmail.com'": lambda c: c.email.lower().endswith("@gmail.com"),
    "customer_account_status = 'ENABLED'": lambda c: c.has_account and c.status != "inactive",
    "customer_account_status = 'DISABLED'": lambda c: not (c.has_account and c.status != "inactive"),
    "email_subscription_status = 'SUBSCRIBED'": lambda c: c.email_subscribed,
    "email_subscription_status = 'NOT_SUBSCRIBED'": lambda c: not c.email_subscribed,
    "customer_added_date >= 30_days_ago": lambda c: local_day(c.created_at) >= TODAY - timedelta(days=30),
    "customer_added_date = today": lambda c: local_day(c.created_at) == TODAY,
    "customer_added_date = yesterday": lambda c: local_day(c.created_at) == TODAY - timedelta(days=1),
    "customer_added_date < 12_months_ago": lambda c: (
        local_day(c.created_at)
        < (
            TODAY.replace(year=TODAY.year - 1)
            if not (TODAY.month == 2 and TODAY.day == 29)
            else date(TODAY.year - 1, 2, 28)
        )
    ),
    "last_order_date >= 7_days_ago": lambda c: (
        bool(c.orders) and local_day(last_order(c)) >= TODAY - timedelta(days=7)
    ),
    "last_order_date > -30d": lambda c: bool(c.orders) and last_order(c) > NOW - timedelta(days=30),
    "amount_spent BETWEEN 1 AND 999.99": lambda c: 100 <= spent(c) <= 99999,
    "number_of_orders > 1 AND customer_tags CONTAINS 'vip'": lambda c: len(c.orders) > 1 and "vip" in c.tags,
    "products_purchased(id: 'SKU-7') = true": lambda c: any("SKU-7" in o.skus for o in c.orders),
    "products_purchased(id: ('SKU-9', 'SKU-3')) = true": lambda c: any(
        s in ("SKU-9", "SKU-3") for o in c.orders for s in o.skus
    ),
    "products_purchased(id: 'SKU-1') = false": lambda c: not any("SKU-1" in o.skus for o in c.orders),
    "orders_placed(count_at_least: 3) = true": lambda c: len(c.orders) >= 3,
    "orders_placed(count_at_most: 1) = true": lambda c: len(c.orders) <= 1,
    "orders_placed(count_at_least: 1, date: >= 30_days_ago) = true": lambda c: any(
        local_day(o.placed_at) >= TODAY - timedelta(days=30) for o in c.orders
    ),
    "anniversary(date: 'metafields.facts.birth_date') BETWEEN today AND +30d": lambda c: celebrated(
        c.birthday, TODAY, local_day(NOW + timedelta(days=30))
    ),
    "anniversary(date: 'birthday') = today": lambda c: celebrated(c.birthday, TODAY, TODAY),
    "anniversary(date: 'birthday') BETWEEN start_of_month AND end_of_month": lambda c: celebrated(
        c.birthday, TODAY.replace(day=1), TODAY.replace(day=calendar.monthrange(TODAY.year, TODAY.month)[1])
    ),
    "abandoned_checkout_date >= 7_days_ago": lambda c: any(
        local_day(t) >= TODAY - timedelta(days=7) for t in c.checkouts
    ),
    "abandoned_checkout_date IS NOT NULL": lambda c: bool(c.checkouts),
    "store_credit_accounts(balance: > 10) = true": lambda c: c.credit > 1000,
    "store_credit_balance > 0": lambda c: c.credit > 0,
    "gender = 'female' OR birthday IS NULL": lambda c: c.gender == "female" or c.birthday is None,
    "abandoned_checkout_date > -8m": lambda c: any(t > _months_back(NOW, 8) for t in c.checkouts),
    "number_of_orders = 0": lambda c: not c.orders,
    "customer_account_status = 'ENABLED' AND email_subscription_status = 'SUBSCRIBED'": lambda c: (
        c.has_account and c.status != "inactive" and c.email_subscribed
    ),
    "NOT (customer_tags CONTAINS 'vip' OR customer_cities CONTAINS 'PT-11-Lisboa')": lambda c: (
        "vip" not in c.tags and not (c.country == "PT" and city_code(c.city) == "lisboa")
    ),
}
RFM_QUERIES = [f"rfm_group = '{g}'" for g in ("champions", "loyal", "new", "prospects", "at_risk", "dormant")]

REFUSED = {
    "sms_subscription_status = 'SUBSCRIBED'": "sms_subscription_status",
    "customer_language = 'fr'": "customer_language",
    "customer_regions CONTAINS 'US-NY'": "customer_regions",
    "predicted_spend_tier = 'HIGH'": "predicted_spend_tier",
    "created_by_app_id = 123": "created_by_app_id",
    "storefront.product_viewed(id: 1) = true": "storefront.product_viewed",
    "shopify_email.opened(activity_id: 5) = true": "shopify_email.opened",
    "orders_placed(app_id: 5) = true": "orders_placed",
    "products_purchased(tag: 'red') = true": "products_purchased",
    "products_purchased(id: 1, date: >= -30d) = true": "products_purchased",
    "email_subscription_status = 'PENDING'": "email_subscription_status",
    "customer_account_status = 'INVITED'": "customer_account_status",
    "orders_placed(count_at_least: 2, date: >= -30d) = true": "orders_placed",
}


@pytest.fixture
def segments(system):
    return system.service("segments", CRM_STORE_TIMEZONE=TZ_NAME, CRM_SEGMENTS_REEVALUATE_SECONDS="3600")


def checkout(c: Shopper, at: datetime, by_id: bool = True, email: str | None = None) -> dict[str, Any]:
    return envelope(
        "checkout.abandoned",
        {
            "checkout_id": f"chk_{uuid.uuid4().hex[:10]}",
            "abandoned_at": at.isoformat(),
            "customer": {"email": email or c.email, "customer_id": c.id if by_id else None},
            "currency": "EUR",
            "total": 1999,
        },
    )


async def members(http: Any, segment_id: str) -> set[str]:
    r = await http.get(f"/v1/segments/{segment_id}/members", params={"limit": 500})
    assert r.status_code == 200, r.text
    return {m["customer_id"] for m in r.json()["items"]}


async def test_shopify_segments_select_the_expected_customers_and_follow_changes(segments, broker: Broker):
    people = build()
    for c in people:
        await broker.publish(c.event())
    for i, c in enumerate(people):
        if c.credit:
            await broker.publish(ledger_entry(c.id, c.credit, 1))
        for t in c.checkouts:
            # by id, or by the e-mail written differently (case does not count)
            await broker.publish(checkout(c, t, by_id=i == 0, email=c.email.upper()))

    async with segments.client() as http:

        async def all_in():
            for c in people:
                r = await http.get(f"/v1/customers/{c.id}/profile")
                if r.status_code != 200:
                    return False
                p = r.json()
                if p["store_credit_balance"] != c.credit or (
                    c.checkouts and not p["abandoned_checkout_date"]
                ):
                    return False
            return True

        await eventually(all_in, timeout=30)

        # Refusals name the attribute and say why; nothing is stored.
        for rule, attribute in REFUSED.items():
            r = await http.post("/v1/segments", json={"name": "x", "rule": rule})
            assert r.status_code == 422, (rule, r.text)
            problem = r.json()
            assert problem["errors"][0]["attribute"] == attribute, rule
            assert attribute.split(".")[0] in problem["detail"] and "not available" in problem["detail"], rule
        listed = (await http.get("/v1/segments")).json()["items"]
        assert listed == []

        # Backfill: segments created over customers already there.
        groups = rfm_groups(people)
        wanted: dict[str, set[str]] = {
            rule: {c.id for c in people if pick(c)} for rule, pick in EXPECTED.items()
        }
        for rule in RFM_QUERIES:
            group = rule.split("'")[1]
            wanted[rule] = {cid for cid, g in groups.items() if g == group}
        assert all(wanted[r] for r in RFM_QUERIES[:2]) and all(len(v) < len(people) for v in wanted.values())
        ids: dict[str, str] = {}
        for rule in wanted:
            r = await http.post("/v1/segments", json={"name": rule[:100], "rule": rule})
            assert r.status_code == 201, (rule, r.text)
            ids[rule] = r.json()["id"]
            preview = (
                await http.post("/v1/segments/preview", json={"rule": rule, "sample_size": 100})
            ).json()
            assert {p["customer_id"] for p in preview["sample"]} == wanted[rule], rule

        for rule, sid in ids.items():
            await eventually(lambda sid=sid, rule=rule: _equal(http, sid, wanted[rule]), timeout=30)

        # Live: the customers change and the segments follow.
        bo, cy, di = people[1], people[2], people[3]
        bo.country, bo.city = "PT", "Porto"  # leaves the US segments
        di.birthday = born(3)  # a birthday coming up now
        di.email = "di@gmail.com"  # a new e-mail domain
        for c in (bo, di):
            await broker.publish(c.event())
        cy.checkouts.append(ago(1))
        await broker.publish(checkout(cy, cy.checkouts[-1], by_id=False))
        # A checkout of an e-mail no customer has yet waits for that customer.
        newcomer = Shopper(email="new@gmail.com", country="US", city="New York City", created_at=ago(0.01))
        newcomer.checkouts.append(ago(0.5))
        await broker.publish(checkout(newcomer, newcomer.checkouts[-1], by_id=False))
        await asyncio.sleep(1)  # most likely handled before the customer exists (either order works)
        await broker.publish(newcomer.event())
        people.append(newcomer)

        for rule, pick in EXPECTED.items():
            want = {c.id for c in people if pick(c)}
            await eventually(lambda rule=rule, want=want: _equal(http, ids[rule], want), timeout=30)
        assert newcomer.id in await members(http, ids["abandoned_checkout_date >= 7_days_ago"])
        assert di.id in await members(
            http, ids["anniversary(date: 'metafields.facts.birth_date') BETWEEN today AND +30d"]
        )

        # Our own names keep working, with the same meaning.
        ours = {
            "country = 'US'": EXPECTED["customer_countries CONTAINS 'US'"],
            "email_domain = 'GMAIL.com'": EXPECTED["customer_email_domain = 'gmail.com'"],
            "created_at >= -30d": lambda c: c.created_at >= NOW - timedelta(days=30),
        }
        for rule, pick in ours.items():
            preview = (
                await http.post("/v1/segments/preview", json={"rule": rule, "sample_size": 100})
            ).json()
            assert {p["customer_id"] for p in preview["sample"]} == {c.id for c in people if pick(c)}, rule


async def _equal(http: Any, segment_id: str, want: set[str]) -> bool:
    return await members(http, segment_id) == want
