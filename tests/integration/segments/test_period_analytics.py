"""Analytics per period (issue 16): every figure checked against numbers computed here,
independently, from the orders, refunds and cancellations this test publishes as a storefront
would, and the customer events the customers service would publish for them. A module of its
own: its database holds only these customers. Base currency EUR; USD counts at 0.5; GBP does not
count. The store's time zone is UTC (the default)."""

import csv
import io
import random
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from harness import Broker, envelope, eventually
from segments_support import Customer, Order, group_members

F = datetime(2026, 3, 1, tzinfo=UTC)
T = datetime(2026, 7, 1, tzinfo=UTC)
CHURN_DAYS = 60
GROUP = "grp_vip"
CATEGORIES = ["shoes", "bags", "hats"]


class Placed:
    def __init__(
        self, customer: Customer, at: datetime, currency: str, lines: list[tuple[str, str, int, int]]
    ):
        self.id = f"ord_{uuid.uuid4().hex[:10]}"
        self.customer, self.at, self.currency, self.lines = customer, at, currency, lines
        self.total = sum(q * p for _, _, q, p in lines)
        self.refunds: list[int] = []
        self.cancelled = False


def base(amount: int, currency: str) -> int | None:
    return {"EUR": amount, "USD": amount // 2}.get(currency)


def build(rnd: random.Random) -> tuple[list[Customer], list[Placed]]:
    people, orders = [], []
    places = [("PT", "Lisboa"), ("PT", "Porto"), ("ES", "Madrid"), ("FR", None), (None, None)]
    for i in range(16):
        country, city = rnd.choice(places)
        c = Customer(country=country, city=city)
        people.append(c)
        for _ in range(rnd.choice([0, 1, 1, 2, 3, 4, 6])):
            at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=rnd.randrange(0, 300 * 24 * 60))
            lines = [
                (
                    f"SKU-{rnd.randrange(1, 6)}",
                    rnd.choice(CATEGORIES),
                    rnd.randrange(1, 4),
                    rnd.randrange(300, 9000),
                )
                for _ in range(rnd.randrange(1, 3))
            ]
            orders.append(Placed(c, at, rnd.choice(["EUR", "EUR", "EUR", "USD", "GBP"]), lines))
        if i == 0 and not any(o.customer is c for o in orders):
            orders.append(
                Placed(c, datetime(2026, 4, 2, 9, tzinfo=UTC), "EUR", [("SKU-1", "shoes", 1, 1000)])
            )
    for o in rnd.sample(orders, 6):
        o.refunds.append(rnd.randrange(100, o.total))
    for o in rnd.sample([o for o in orders if not o.refunds], 3):
        o.cancelled = True
    for c in people:  # the statistics the customers service would publish: orders not cancelled
        c.orders = []
        for o in orders:
            if o.customer is c and not o.cancelled:
                order = Order(
                    o.total, o.currency, skus=tuple(s for s, _, _, _ in o.lines), category=o.lines[0][1]
                )
                order.placed_at = o.at
                c.orders.append(order)
    return people, orders


def order_event(o: Placed, by_email: bool) -> dict:
    return envelope(
        "order.placed",
        {
            "order_id": o.id,
            "placed_at": o.at.isoformat(),
            "customer": {
                "email": o.customer.email.upper(),
                "customer_id": None if by_email else o.customer.id,
            },
            "currency": o.currency,
            "total": o.total,
            "items": [{"sku": s, "category": c, "quantity": q, "unit_price": p} for s, c, q, p in o.lines],
        },
    )


# the independent computation ----------------------------------------------------------------------


def live(orders: list[Placed]) -> list[Placed]:
    return [o for o in orders if not o.cancelled]


def expected(people: list[Customer], orders: list[Placed]) -> dict:
    ids = {c.id for c in people}
    mine = [o for o in live(orders) if o.customer.id in ids]
    in_period = [o for o in mine if F <= o.at < T]
    first = {}
    for o in mine:
        first[o.customer.id] = min(first.get(o.customer.id, o.at), o.at)
    buyers = {o.customer.id for o in in_period}
    new = {c for c in buyers if first[c] >= F}
    per_buyer = defaultdict(int)
    revenue = counted = 0
    for o in in_period:
        value = base(max(0, o.total - sum(o.refunds)), o.currency)
        if value is not None:
            revenue += value
            counted += 1
            per_buyer[o.customer.id] += value
    repeat = len(buyers - new) + sum(1 for c in new if sum(o.customer.id == c for o in in_period) >= 2)
    before_end = [o for o in mine if o.at < T]
    last = {}
    for o in before_end:
        last[o.customer.id] = max(last.get(o.customer.id, o.at), o.at)
    churned = sum(1 for t in last.values() if t < T - timedelta(days=CHURN_DAYS))
    return {
        "customers": len(people),
        "buyers": len(buyers),
        "new_customers": len(new),
        "returning_customers": len(buyers - new),
        "orders": len(in_period),
        "revenue": {"amount": revenue, "currency": "EUR"},
        "repeat_purchase_rate": repeat / len(buyers),
        "average_order_value": {"amount": revenue // counted, "currency": "EUR"},
        "average_lifetime_value": {"amount": revenue // len(buyers), "currency": "EUR"},
        "churn": {"days": CHURN_DAYS, "customers": churned, "of_customers": len(last)},
        "_new": new,
        "_per_buyer": per_buyer,
        "_in_period": in_period,
        "_mine": mine,
        "_first": first,
    }


def expected_timing(e: dict) -> dict:
    gaps = []
    for o in e["_in_period"]:
        earlier = [p.at for p in e["_mine"] if p.customer.id == o.customer.id and p.at < o.at]
        if earlier:
            gaps.append((o.at - max(earlier)).total_seconds() / 86400)
    weekdays, hours = [0] * 7, [0] * 24
    for o in e["_in_period"]:
        weekdays[o.at.weekday()] += 1
        hours[o.at.hour] += 1
    return {"days": sum(gaps) / len(gaps), "intervals": len(gaps), "weekdays": weekdays, "hours": hours}


def month(t: datetime) -> str:
    return f"{t.year:04d}-{t.month:02d}"


def expected_cohorts(e: dict) -> dict[str, tuple[int, list[int]]]:
    months = ["2026-03", "2026-04", "2026-05", "2026-06"]
    out = {}
    for i, m in enumerate(months):
        cohort = [c for c, t in e["_first"].items() if month(t) == m]
        later = []
        for m2 in months[i + 1 :]:
            later.append(
                sum(
                    1
                    for c in cohort
                    if any(o.customer.id == c and o.at < T and month(o.at) == m2 for o in e["_mine"])
                )
            )
        out[m] = (len(cohort), later)
    return out


def expected_geography(people: list[Customer], e: dict) -> tuple[dict, dict]:
    countries: dict = defaultdict(lambda: [0, 0, 0])
    cities: dict = defaultdict(lambda: [0, 0, 0])
    for c in people:
        for row in (countries[c.country], cities[(c.country, c.city)]):
            row[0] += 1
            row[1] += any(o.customer is c for o in e["_in_period"])
            row[2] += e["_per_buyer"].get(c.id, 0)
    return (
        {k: tuple(v) for k, v in countries.items()},
        {k: tuple(v) for k, v in cities.items()},
    )


def expected_items(e: dict, pick) -> dict:
    items: dict = defaultdict(lambda: [set(), 0, 0])
    for o in e["_in_period"]:
        for line in o.lines:
            row = items[pick(line)]
            row[0].add(o.customer.id)
            row[1] += line[2]
            row[2] += base(line[2] * line[3], o.currency) or 0
    return {k: (len(v[0]), v[1], v[2]) for k, v in items.items()}


# the test ---------------------------------------------------------------------------------------


@pytest.fixture
def segments(system):
    return system.service("segments", CRM_FX_RATES="USD=0.5")


async def test_period_figures_match_an_independent_computation(segments, broker: Broker):
    people, orders = build(random.Random(16))
    email_only = people[0]  # their orders name no customer id: found by e-mail
    for c in people:
        await broker.publish(c.event())
    members = [c.id for c in people[::3]]
    await broker.publish(group_members("added", GROUP, "VIP", members))
    for o in orders:
        await broker.publish(order_event(o, by_email=o.customer is email_only))
    resent = next(o for o in orders if F <= o.at < T and not o.cancelled and o.currency == "EUR")
    await broker.publish(order_event(resent, by_email=False))  # re-sent: counts once
    for o in orders:
        for amount in o.refunds:
            refund = {
                "order_id": o.id,
                "refunded_at": (o.at + timedelta(days=2)).isoformat(),
                "customer": {"email": o.customer.email},
                "currency": o.currency,
                "amount": amount,
                "refund_id": f"rf_{o.id}",
            }
            await broker.publish(envelope("order.refunded", refund))
            await broker.publish(envelope("order.refunded", refund))  # re-sent, same refund id
        if o.cancelled:
            cancel = {
                "order_id": o.id,
                "cancelled_at": o.at.isoformat(),
                "customer": {"email": o.customer.email},
            }
            await broker.publish(envelope("order.cancelled", cancel))

    want = expected(people, orders)
    window = {"from": F.isoformat(), "to": T.isoformat()}
    async with segments.client() as http:

        async def settled():
            r = await http.get("/v1/analytics/period", params={**window, "churn_days": CHURN_DAYS})
            got = r.json()
            done = r.status_code == 200 and got["customers"] == len(people)
            return got if done and all(got[k] == want[k] for k in ("orders", "revenue", "buyers")) else None

        got = await eventually(settled, timeout=60)
        for key in (
            "customers",
            "buyers",
            "new_customers",
            "returning_customers",
            "orders",
            "revenue",
            "average_order_value",
            "average_lifetime_value",
        ):
            assert got[key] == want[key], key
        assert got["repeat_purchase_rate"] == pytest.approx(want["repeat_purchase_rate"])
        assert {k: got["churn"][k] for k in ("days", "customers", "of_customers")} == want["churn"]
        assert got["churn"]["rate"] == pytest.approx(
            want["churn"]["customers"] / want["churn"]["of_customers"]
        )
        assert got["from"] == "2026-03-01T00:00:00Z" and got["base_currency"] == "EUR"

        # Frequency and timing.
        timing = (await http.get("/v1/analytics/timing", params=window)).json()
        wt = expected_timing(want)
        assert timing["average_days_between_orders"] == pytest.approx(wt["days"])
        assert timing["intervals"] == wt["intervals"]
        assert [d["orders"] for d in timing["by_weekday"]] == wt["weekdays"]
        assert [h["orders"] for h in timing["by_hour"]] == wt["hours"]
        assert timing["time_zone"] == "UTC"

        # Retention cohorts, JSON and CSV.
        cohorts = (await http.get("/v1/analytics/cohorts", params=window)).json()["cohorts"]
        wc = expected_cohorts(want)
        assert [c["month"] for c in cohorts] == list(wc)
        for c in cohorts:
            size, later = wc[c["month"]]
            assert c["customers"] == size
            assert [r["customers"] for r in c["retention"]] == later
            assert [r["rate"] for r in c["retention"]] == [k / size if size else None for k in later]
        r = await http.get("/v1/analytics/cohorts.csv", params=window)
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(r.text)))
        assert rows[0] == ["cohort", "customers", "m1", "m2", "m3"]
        for row in rows[1:]:
            size, later = wc[row[0]]
            assert int(row[1]) == size
            want_cells = [f"{k / size:.4f}" if size else "" for k in later]
            assert row[2:] == want_cells + [""] * (3 - len(later))

        # Geography.
        geo = (await http.get("/v1/analytics/geography", params=window)).json()
        wcountries, wcities = expected_geography(people, want)
        assert {
            c["country"]: (c["customers"], c["buyers"], c["revenue"]["amount"]) for c in geo["countries"]
        } == wcountries
        assert {
            (c["country"], c["city"]): (c["customers"], c["buyers"], c["revenue"]["amount"])
            for c in geo["cities"]
        } == wcities

        # Product and category preferences.
        prefs = (await http.get("/v1/analytics/preferences", params={**window, "limit": 50})).json()
        wcat = expected_items(want, lambda line: line[1])
        wsku = expected_items(want, lambda line: line[0])
        assert {
            c["category"]: (c["buyers"], c["units"], c["revenue"]["amount"]) for c in prefs["categories"]
        } == wcat
        assert {
            p["sku"]: (p["buyers"], p["units"], p["revenue"]["amount"]) for p in prefs["products"]
        } == wsku
        ranks = [(p["buyers"], p["revenue"]["amount"]) for p in prefs["products"]]
        assert ranks == sorted(ranks, reverse=True)
        top = (
            await http.get("/v1/analytics/preferences", params={**window, "limit": 2, "sort": "revenue"})
        ).json()
        assert [p["sku"] for p in top["products"]] == [
            s for s, _ in sorted(wsku.items(), key=lambda i: (-i[1][2], -i[1][0], i[0]))[:2]
        ]

        # Over one segment (its rule now) and over one group (its members).
        async def grouped():
            r = await http.get("/v1/analytics/period", params={**window, "group_id": GROUP})
            return r.status_code == 200 and r.json()["customers"] == len(members)

        await eventually(grouped)
        seg = (await http.post("/v1/segments", json={"name": "Portugal", "rule": "country = 'PT'"})).json()[
            "id"
        ]
        pt = [c for c in people if c.country == "PT"]
        for params, scope in (
            ({"segment_id": seg}, pt),
            ({"group_id": GROUP}, [c for c in people if c.id in members]),
        ):
            w = expected(scope, orders)
            got = (
                await http.get("/v1/analytics/period", params={**window, **params, "churn_days": CHURN_DAYS})
            ).json()
            for key in ("customers", "buyers", "new_customers", "returning_customers", "orders", "revenue"):
                assert got[key] == w[key], (params, key)
            prefs = (
                await http.get("/v1/analytics/preferences", params={**window, **params, "limit": 50})
            ).json()
            assert {
                c["category"]: (c["buyers"], c["units"], c["revenue"]["amount"]) for c in prefs["categories"]
            } == expected_items(w, lambda line: line[1])

        # Customer acquisition cost: spend entered through the API, pro rata of its time.
        spends = [
            {
                "channel": "ads",
                "starts_at": F.isoformat(),
                "ends_at": T.isoformat(),
                "amount": 100_000,
                "currency": "EUR",
            },
            {
                "channel": "social",
                "starts_at": "2026-06-01T00:00:00Z",
                "ends_at": "2026-08-01T00:00:00Z",
                "amount": 6100,
                "currency": "EUR",
            },
            {
                "channel": "ads",
                "starts_at": "2026-03-01T00:00:00Z",
                "ends_at": "2026-04-01T00:00:00Z",
                "amount": 999,
                "currency": "USD",
            },
            {
                "channel": "print",
                "starts_at": "2026-01-01T00:00:00Z",
                "ends_at": "2026-02-01T00:00:00Z",
                "amount": 5000,
                "currency": "EUR",
            },
        ]
        created = []
        for s in spends:
            r = await http.post("/v1/marketing-spend", json=s)
            assert r.status_code == 201, r.text
            created.append(r.json())
        cac = (await http.get("/v1/analytics/cac", params=window)).json()
        new = want["new_customers"]
        eur = 100_000 + 6100 * 30 // 61
        assert cac["new_customers"] == new
        assert cac["per_currency"] == [
            {"currency": "EUR", "spend": eur, "cac": {"amount": eur // new, "currency": "EUR"}},
            {"currency": "USD", "spend": 999, "cac": {"amount": 999 // new, "currency": "USD"}},
        ]
        assert {(c["channel"], c["spend"]["currency"]): c["spend"]["amount"] for c in cac["per_channel"]} == {
            ("ads", "EUR"): 100_000,
            ("social", "EUR"): 3000,
            ("ads", "USD"): 999,
        }
        # CRUD of the spend.
        sid = created[1]["id"]
        r = await http.patch(f"/v1/marketing-spend/{sid}", json={"amount": 0})
        assert r.status_code == 200 and r.json()["amount"] == 0
        assert (await http.get(f"/v1/marketing-spend/{sid}")).json()["amount"] == 0
        listed = (await http.get("/v1/marketing-spend", params={"limit": 3})).json()
        assert len(listed["items"]) == 3 and listed["next_cursor"]
        assert (await http.delete(f"/v1/marketing-spend/{created[3]['id']}")).status_code == 204
        assert (await http.get(f"/v1/marketing-spend/{created[3]['id']}")).status_code == 404
        cac = (await http.get("/v1/analytics/cac", params=window)).json()
        assert cac["per_currency"][0]["spend"] == 100_000

        # Bad input: 422, nothing changed; unknown scope: 404.
        assert (
            await http.get("/v1/analytics/period", params={"from": T.isoformat(), "to": F.isoformat()})
        ).status_code == 422
        assert (
            await http.get(
                "/v1/analytics/period", params={"from": "2026-03-01T00:00:00", "to": T.isoformat()}
            )
        ).status_code == 422
        assert (await http.get("/v1/analytics/period", params={"to": T.isoformat()})).status_code == 422
        both = {**window, "segment_id": seg, "group_id": GROUP}
        assert (await http.get("/v1/analytics/period", params=both)).status_code == 422
        assert (
            await http.get("/v1/analytics/geography", params={**window, "segment_id": "seg_nope"})
        ).status_code == 404
        assert (
            await http.get("/v1/analytics/cohorts", params={**window, "group_id": "grp_nope"})
        ).status_code == 404
        bad = {**spends[0], "starts_at": T.isoformat(), "ends_at": F.isoformat()}
        assert (await http.post("/v1/marketing-spend", json=bad)).status_code == 422
        assert (await http.post("/v1/marketing-spend", json={**spends[0], "amount": -1})).status_code == 422
        assert (
            await http.patch(f"/v1/marketing-spend/{sid}", json={"ends_at": "2026-01-01T00:00:00Z"})
        ).status_code == 422
        assert (await http.get(f"/v1/marketing-spend/{sid}")).json()["ends_at"] == "2026-08-01T00:00:00Z"

        # Today's all-time analytics keep their answers (from the customer events alone).
        all_time = (await http.get("/v1/analytics")).json()
        assert all_time["buyers"] == sum(1 for c in people if c.orders)
