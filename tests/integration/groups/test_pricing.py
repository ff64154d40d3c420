"""Issue 15: price lists per group (a price per SKU and currency, or a percentage off, in an
optional window) and the price a customer in several overlapping groups pays, with the group
that won and why (Medusa's issue 13034, price calculation failing with several groups, must
not happen). The groups service runs as a real process against the real broker and FerretDB."""

import asyncio
from datetime import UTC, datetime, timedelta

from groups_support import create_group, make_customers

from harness import Broker

T = datetime(2030, 6, 15, 12, 0, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def add_price(http, group_id: str, **body) -> dict:
    r = await http.post(f"/v1/groups/{group_id}/prices", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_customer_in_several_overlapping_groups_gets_one_price_and_why(system, broker: Broker, mongo):
    groups = system.service("groups")
    ana, bo = await make_customers(system, broker, mongo, 2)
    async with groups.client() as http:
        retail = await create_group(http, discount_percent=5)
        vip = await create_group(http)
        wholesale = await create_group(http)
        staff = await create_group(http, priority=10)
        vip_sku1 = await add_price(http, vip["id"], sku="SKU-1", currency="EUR", amount=900)
        await add_price(http, vip["id"], percent_off=10)  # every SKU, every currency
        await add_price(http, wholesale["id"], sku="SKU-1", currency="EUR", amount=950)
        promo = await add_price(
            http,
            wholesale["id"],
            sku="SKU-1",
            currency="EUR",
            amount=800,
            starts_at=iso(T - timedelta(days=1)),
            ends_at=iso(T + timedelta(days=1)),
        )
        await add_price(http, staff["id"], sku="SKU-2", currency="EUR", percent_off=50)
        for g in (retail, vip, wholesale, staff):
            r = await http.post(f"/v1/groups/{g['id']}/customers", json={"add": [ana]})
            assert r.status_code == 200

        async def quote(customer: str, **params) -> dict:
            params.setdefault("at", iso(T))
            r = await http.get(f"/v1/customers/{customer}/pricing", params=params)
            assert r.status_code == 200, r.text
            return r.json()["quote"]

        # Four groups, three of them pricing SKU-1 in EUR at once: one answer, the lowest price
        # at equal priority; wholesale's dated promotion beats its own open-ended price.
        q = await quote(ana, sku="SKU-1", currency="EUR", list_price=1000)
        assert (q["price"], q["group"]["id"], q["price_id"], q["rule"]) == (
            800,
            wholesale["id"],
            promo["id"],
            "lowest-price",
        )
        assert [(o["group"]["id"], o["price"], o["basis"]) for o in q["offers"]] == [
            (wholesale["id"], 800, "sku-price"),
            (vip["id"], 900, "sku-price"),  # the SKU price beats vip's 10% off everything
            (retail["id"], 950, "group-discount"),
        ]
        assert wholesale["name"] in q["reason"] and vip["name"] in q["reason"]
        # The same answer on every call, whatever order the database returns things in.
        again = await asyncio.gather(
            *(quote(ana, sku="SKU-1", currency="EUR", list_price=1000) for _ in range(5))
        )
        assert all(a == q for a in again)

        # After the promotion: 900 from vip; retail and wholesale tie at 950, the older group first.
        q = await quote(ana, sku="SKU-1", currency="EUR", list_price=1000, at=iso(T + timedelta(days=1)))
        assert (q["price"], q["group"]["id"], q["price_id"]) == (900, vip["id"], vip_sku1["id"])
        assert [o["group"]["id"] for o in q["offers"]] == [vip["id"], retail["id"], wholesale["id"]]

        # Another currency: only percentages apply; vip's 10% off every currency wins.
        q = await quote(ana, sku="SKU-1", currency="USD", list_price=1000)
        assert (q["price"], q["percent_off"], q["group"]["id"], q["basis"]) == (
            900,
            10,
            vip["id"],
            "all-skus-percent",
        )

        # A higher priority wins even against a lower price elsewhere.
        q = await quote(ana, sku="SKU-2", currency="EUR", list_price=2000)
        assert (q["price"], q["group"]["id"], q["rule"]) == (1000, staff["id"], "priority")
        # Without a list price a percentage cannot be priced: the percentage is said instead.
        q = await quote(ana, sku="SKU-2", currency="EUR")
        assert (q["price"], q["percent_off"], q["group"]["id"]) == (None, 50, staff["id"])

        # A customer in no group pays the list price, and is told so.
        q = await quote(bo, sku="SKU-1", currency="EUR", list_price=1000)
        assert (q["price"], q["group"], q["rule"], q["offers"]) == (1000, None, "none", [])

        # Without sku the existing answer (group discount and tier) is unchanged.
        r = (await http.get(f"/v1/customers/{ana}/pricing")).json()
        assert (r["discount_percent"], r["group"]["id"], r["quote"]) == (5, retail["id"], None)

        # Pricing follows changes: the promotion removed, vip's 900 wins at T.
        assert (await http.delete(f"/v1/groups/{wholesale['id']}/prices/{promo['id']}")).status_code == 204
        q = await quote(ana, sku="SKU-1", currency="EUR", list_price=1000)
        assert (q["price"], q["group"]["id"]) == (900, vip["id"])


async def test_bad_pricing_questions_are_422_naming_the_parameter(system, broker: Broker, mongo):
    groups = system.service("groups")
    [ana] = await make_customers(system, broker, mongo, 1)
    async with groups.client() as http:
        for params, field in [
            ({"sku": "SKU-1"}, "currency"),
            ({"currency": "EUR"}, "sku"),
            ({"sku": "SKU-1", "currency": "eur"}, "query.currency"),
            ({"sku": "SKU-1", "currency": "EUR", "at": "2030-01-01T00:00:00"}, "query.at"),
            ({"sku": "SKU-1", "currency": "EUR", "list_price": "-1"}, "query.list_price"),
        ]:
            r = await http.get(f"/v1/customers/{ana}/pricing", params=params)
            assert r.status_code == 422, (params, r.text)
            assert r.headers["content-type"] == "application/problem+json"
            assert field in [e["field"] for e in r.json()["errors"]], r.json()
        r = await http.get("/v1/customers/cus_unknown/pricing", params={"sku": "SKU-1", "currency": "EUR"})
        assert r.status_code == 404


async def test_price_list_entries_are_validated_listed_removed_and_announced(system, broker: Broker, mongo):
    groups = system.service("groups")
    async with groups.client() as http:
        group = await create_group(http)
        prices = f"/v1/groups/{group['id']}/prices"
        for body, field in [
            ({"sku": "SKU-1", "currency": "EUR", "amount": 100, "percent_off": 5}, "amount"),
            ({}, "amount"),
            ({"currency": "EUR", "amount": 100}, "sku"),
            ({"sku": "SKU-1", "amount": 100}, "currency"),
            ({"sku": "SKU-1", "currency": "EUR", "amount": -1}, "amount"),
            ({"sku": "SKU-1", "currency": "euro", "amount": 1}, "currency"),
            ({"percent_off": 101}, "percent_off"),
            (
                {"percent_off": 5, "starts_at": "2030-01-02T00:00:00Z", "ends_at": "2030-01-01T00:00:00Z"},
                "ends_at",
            ),
            ({"percent_off": 5, "starts_at": "2030-01-02T00:00:00"}, "starts_at"),
            ({"percent_off": 5, "sku": "*"}, "sku"),
            ({"percent_off": 5, "colour": "red"}, "colour"),
        ]:
            r = await http.post(prices, json=body)
            assert r.status_code == 422, (body, r.text)
            assert field in [e["field"] for e in r.json()["errors"]], (body, r.json())
        assert (await http.get(prices)).json() == {"items": [], "next_cursor": None}
        assert (await http.post("/v1/groups/grp_missing/prices", json={"percent_off": 5})).status_code == 404

        a = await add_price(http, group["id"], sku="SKU-1", currency="EUR", amount=1999)
        b = await add_price(
            http, group["id"], sku="SKU-1", percent_off=15, starts_at="2030-01-01T01:00:00+01:00"
        )
        c = await add_price(http, group["id"], sku="SKU-2", currency="EUR", amount=500)
        assert b["starts_at"] == "2030-01-01T00:00:00Z" and b["currency"] is None and b["amount"] is None

        seen, cursor = [], None
        while True:
            page = (
                await http.get(prices, params={"limit": 2, **({"cursor": cursor} if cursor else {})})
            ).json()
            seen += page["items"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert sorted(p["id"] for p in seen) == sorted([a["id"], b["id"], c["id"]])
        only = (await http.get(prices, params={"sku": "SKU-1"})).json()["items"]
        assert sorted(p["id"] for p in only) == sorted([a["id"], b["id"]])

        # Two concurrent removals of one entry: it is gone, and announced once (below).
        both = await asyncio.gather(*(http.delete(f"{prices}/{a['id']}") for _ in range(2)))
        assert {r.status_code for r in both} <= {204, 404} and 204 in {r.status_code for r in both}
        assert (await http.delete(f"{prices}/{a['id']}")).status_code == 404
        assert (await http.delete(f"/v1/groups/grp_missing/prices/{b['id']}")).status_code == 404

    def of_group(body: dict) -> bool:
        return body["data"]["group_id"] == group["id"]

    added = await broker.wait_for(
        "group.pricing.updated", lambda b: of_group(b) and b["data"]["change"] == "added", count=3
    )
    assert {e["body"]["data"]["price"]["id"] for e in added} == {a["id"], b["id"], c["id"]}
    [removed] = await broker.wait_for(
        "group.pricing.updated", lambda b: of_group(b) and b["data"]["change"] == "removed"
    )
    assert removed["body"]["data"]["price"] == a and removed["body"]["subject"] == group["id"]
    assert removed["body"]["data"]["group_name"] == group["name"]

    # Deleting the group ends its price list (group.deleted says so; no entry-by-entry events).
    async with groups.client() as http:
        assert (await http.delete(f"/v1/groups/{group['id']}")).status_code == 204
        assert (await http.get(f"/v1/groups/{group['id']}/prices")).status_code == 404
    stored = mongo[system.database("groups")]["group_prices"]
    assert await stored.count_documents({"group_id": group["id"]}) == 0
    await asyncio.sleep(0.5)
    assert len(broker.events("group.pricing.updated", of_group)) == 4
