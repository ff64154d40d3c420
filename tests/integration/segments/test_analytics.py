"""Customer analytics and RFM scores, checked against values computed here, independently, from
the orders behind the customers' statistics. A module of its own: its database holds only the
customers below. Base currency EUR; USD counts at a fixed 0.5; GBP is not counted."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from harness import Broker, eventually
from segments_support import Customer, Order

CHURN_DAYS = 60


def build_customers() -> list[Customer]:
    rnd = random.Random(6)
    people = []
    for _i in range(14):
        orders = []
        for _ in range(rnd.choice([0, 1, 1, 2, 3, 5])):
            currency = rnd.choice(["EUR", "EUR", "EUR", "USD", "GBP"])
            orders.append(Order(rnd.randrange(500, 40000), currency, days_ago=rnd.randrange(1, 300) + 0.5))
        people.append(Customer(country=rnd.choice(["PT", "PT", "ES", "FR", None]), orders=orders))
    return people


def counted(c: Customer) -> tuple[int, int]:
    """(money spent in EUR cents, orders) over the currencies that count."""
    eur = sum(o.total for o in c.orders if o.currency == "EUR")
    usd = sum(o.total for o in c.orders if o.currency == "USD")
    return eur + usd // 2, sum(o.currency in ("EUR", "USD") for o in c.orders)


def expected_summary(people: list[Customer]) -> dict:
    buyers = [c for c in people if c.orders]
    spent = sum(counted(c)[0] for c in people)
    orders = sum(counted(c)[1] for c in people)
    cutoff = datetime.now(UTC) - timedelta(days=CHURN_DAYS)
    churned = [c for c in buyers if max(o.placed_at for o in c.orders) < cutoff]
    countries: dict = {}
    for c in people:
        countries[c.country] = countries.get(c.country, 0) + 1
    return {
        "customers": len(people),
        "buyers": len(buyers),
        "new_customers": sum(len(c.orders) == 1 for c in buyers),
        "returning_customers": sum(len(c.orders) > 1 for c in buyers),
        "repeat_purchase_rate": sum(len(c.orders) > 1 for c in buyers) / len(buyers),
        "average_order_value": {"amount": spent // orders, "currency": "EUR"},
        "average_lifetime_value": {"amount": spent // len(buyers), "currency": "EUR"},
        "churn": {"days": CHURN_DAYS, "customers": len(churned), "rate": len(churned) / len(buyers)},
        "countries": countries,
    }


def expected_rfm(people: list[Customer]) -> dict[str, str]:
    buyers = [c for c in people if c.orders]
    n = len(buyers)
    metrics = {c.id: (max(o.placed_at for o in c.orders), len(c.orders), counted(c)[0]) for c in buyers}

    def score(i: int, value) -> int:
        worse = sum(1 for m in metrics.values() if m[i] < value)
        return 1 + 5 * worse // n

    return {cid: "".join(str(score(i, m[i])) for i in range(3)) for cid, m in metrics.items()}


@pytest.fixture
def segments(system):
    return system.service("segments", CRM_FX_RATES="USD=0.5")


async def test_analytics_match_an_independent_computation(segments, broker: Broker):
    people = build_customers()
    assert any(len(c.orders) > 1 for c in people) and any(not c.orders for c in people)
    for c in people:
        await broker.publish(c.event())
    async with segments.client() as http:

        async def all_in():
            for c in people:
                if (await http.get(f"/v1/customers/{c.id}/profile")).status_code != 200:
                    return False
            return True

        await eventually(all_in)
        r = await http.get("/v1/analytics", params={"churn_days": CHURN_DAYS})
        assert r.status_code == 200
        got = r.json()
        want = expected_summary(people)
        assert got["base_currency"] == "EUR"
        for key in (
            "customers",
            "buyers",
            "new_customers",
            "returning_customers",
            "average_order_value",
            "average_lifetime_value",
        ):
            assert got[key] == want[key], key
        assert got["repeat_purchase_rate"] == pytest.approx(want["repeat_purchase_rate"])
        assert got["churn"]["customers"] == want["churn"]["customers"]
        assert got["churn"]["rate"] == pytest.approx(want["churn"]["rate"])
        assert {c["country"]: c["customers"] for c in got["countries"]} == want["countries"]
        counts = [c["customers"] for c in got["countries"]]
        assert counts == sorted(counts, reverse=True)

        rfm = expected_rfm(people)
        groups: dict[str, int] = {}
        for g in rfm.values():
            groups[g] = groups.get(g, 0) + 1
        assert {g["rfm"]: g["customers"] for g in got["rfm_groups"]} == groups

        scores, cursor = {}, None
        while True:
            page = (
                await http.get(
                    "/v1/analytics/rfm", params={"limit": 4, **({"cursor": cursor} if cursor else {})}
                )
            ).json()
            scores.update({i["customer_id"]: i["rfm"] for i in page["items"]})
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert scores == rfm

        # Over one segment: the customers its rule selects.
        r = await http.post("/v1/segments", json={"name": "Portugal", "rule": "country = 'PT'"})
        seg = r.json()["id"]
        got = (await http.get("/v1/analytics", params={"segment_id": seg, "churn_days": CHURN_DAYS})).json()
        pt = [c for c in people if c.country == "PT"]
        want = expected_summary(pt)
        assert got["segment_id"] == seg
        for key in (
            "customers",
            "buyers",
            "new_customers",
            "returning_customers",
            "average_order_value",
            "average_lifetime_value",
        ):
            assert got[key] == want[key], key
        assert got["countries"] == [{"country": "PT", "customers": len(pt)}]
        assert (await http.get("/v1/analytics", params={"segment_id": "seg_nope"})).status_code == 404
        assert (await http.get("/v1/analytics", params={"churn_days": 0})).status_code == 422
