"""Segments service (issue 6) against the real broker and FerretDB. The customers, groups and
ledger services are played by the test: it publishes their events as crm_contracts defines them."""

import uuid

import pytest

from harness import Broker, eventually
from segments_support import (
    Customer,
    Order,
    Probe,
    group_members,
    ledger_entry,
    membership,
    wait_membership,
)


@pytest.fixture
def segments(system):
    # Re-evaluation every second, so the test of relative dates need not wait long.
    return system.service("segments", CRM_SEGMENTS_REEVALUATE_SECONDS="1")


async def create(http, name: str, rule: str) -> dict:
    r = await http.post("/v1/segments", json={"name": name, "rule": rule})
    assert r.status_code == 201, r.text
    return r.json()


async def profile_version(http, customer_id: str, version: int) -> None:
    async def seen():
        r = await http.get(f"/v1/customers/{customer_id}/profile")
        return r.status_code == 200 and r.json()["customer_version"] >= version

    await eventually(seen)


def tag() -> str:
    return f"t{uuid.uuid4().hex[:8]}"


async def test_crossing_a_threshold_joins_once_and_a_cancelled_order_leaves_once(segments, broker: Broker):
    t = tag()
    async with segments.client() as http:
        seg = await create(http, "Big spenders", f"amount_spent >= 100 AND customer_tags CONTAINS '{t}'")
        probe = await Probe(http, broker).create()
        ana = Customer(tags=[t], orders=[Order(6000)])
        await broker.publish(ana.event())  # 60 EUR: not yet
        await profile_version(http, ana.id, 1)
        ana.orders.append(Order(7000))  # 130 EUR: lifted over the threshold
        lifted = ana.event()
        await broker.publish(lifted)
        joined = await wait_membership(broker, "joined", seg["id"], ana.id)
        assert joined["data"] == {
            "segment_id": seg["id"],
            "segment_name": "Big spenders",
            "customer_id": ana.id,
            "email": ana.email,
            "email_subscribed": True,
        }
        assert joined["source"] == "/crm/segments" and joined["subject"] == ana.id

        # Redelivery of the same event, the same version again, another order: still one joined.
        await broker.publish(lifted)
        ana.orders.append(Order(1000))
        before_cancel = ana.event()
        await broker.publish(before_cancel)
        await profile_version(http, ana.id, 3)
        await probe.sync(ana.id)
        assert len(membership(broker, "joined", seg["id"], ana.id)) == 1

        # The 70 EUR order is cancelled: the customers service publishes the lower statistics.
        del ana.orders[1]
        await broker.publish(ana.event())
        await wait_membership(broker, "left", seg["id"], ana.id)
        # An older version arriving late (it had 140 EUR) changes nothing.
        await broker.publish({**before_cancel, "id": str(uuid.uuid4())})
        await probe.sync(ana.id)
        assert len(membership(broker, "joined", seg["id"], ana.id)) == 1
        assert len(membership(broker, "left", seg["id"], ana.id)) == 1

        r = await http.get(f"/v1/customers/{ana.id}/profile")
        assert r.json()["amount_spent"] == 7000 and r.json()["number_of_orders"] == 2
        assert (await http.get(f"/v1/segments/{seg['id']}/members")).json()["items"] == []


async def test_editing_a_rule_publishes_only_the_difference(segments, broker: Broker):
    t = tag()
    async with segments.client() as http:
        probe = await Probe(http, broker).create()
        a = Customer(tags=[t], country="PT", orders=[Order(1000), Order(1000)])
        b = Customer(tags=[t], country="PT", orders=[Order(1000)])
        c = Customer(tags=[t], country="ES", orders=[Order(1000), Order(1000), Order(500)])
        for x in (a, b, c):
            await broker.publish(x.event())
        for x in (a, b, c):
            await profile_version(http, x.id, 1)
        seg = await create(http, "Portugal", f"country = 'pt' AND customer_tags CONTAINS '{t}'")
        await wait_membership(broker, "joined", seg["id"], a.id)
        await wait_membership(broker, "joined", seg["id"], b.id)
        members = (await http.get(f"/v1/segments/{seg['id']}/members")).json()["items"]
        assert sorted(m["customer_id"] for m in members) == sorted([a.id, b.id])
        assert {m["email"] for m in members} == {a.email, b.email}

        r = await http.patch(
            f"/v1/segments/{seg['id']}",
            json={"rule": f"number_of_orders >= 2 AND customer_tags CONTAINS '{t}'"},
        )
        assert r.status_code == 200 and r.json()["version"] == 2
        await wait_membership(broker, "left", seg["id"], b.id)
        await wait_membership(broker, "joined", seg["id"], c.id)
        for x in (a, b, c):
            await probe.sync(x.id)
        assert len(membership(broker, "joined", seg["id"], a.id)) == 1 and not membership(
            broker, "left", seg["id"], a.id
        )
        assert (
            len(membership(broker, "joined", seg["id"], b.id)) == 1
            and len(membership(broker, "left", seg["id"], b.id)) == 1
        )
        assert len(membership(broker, "joined", seg["id"], c.id)) == 1
        updated = await broker.wait_for("segment.updated", lambda e: e["data"]["id"] == seg["id"])
        assert updated[0]["body"]["data"]["version"] == 2

        # A new name changes no membership; later events carry it.
        r = await http.patch(f"/v1/segments/{seg['id']}", json={"name": "Repeat buyers"})
        assert r.status_code == 200 and r.json()["name"] == "Repeat buyers" and r.json()["member_count"] == 2
        b.orders.append(Order(100))
        await broker.publish(b.event())
        rejoined = await broker.wait_for(
            "segment.member.joined",
            lambda e: e["data"]["segment_id"] == seg["id"] and e["data"]["customer_id"] == b.id,
            count=2,
        )
        assert rejoined[1]["body"]["data"]["segment_name"] == "Repeat buyers"

        r = await http.get(f"/v1/customers/{c.id}/segments")
        assert {s["segment_id"] for s in r.json()["items"]} == {seg["id"], probe.segment_id}


async def test_invalid_rules_are_rejected_with_their_position(segments):
    async with segments.client() as http:
        r = await http.post(
            "/v1/segments", json={"name": "bad", "rule": "amount_spent >= 100 AND\n  country > 'PT'"}
        )
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["type"].endswith("/problems/invalid-rule")
        assert body["position"] == {"line": 2, "column": 11, "offset": 34}
        assert body["errors"][0]["field"] == "rule" and "line 2, column 11" in body["detail"]
        r = await http.post("/v1/segments/preview", json={"rule": "number_of_orders >="})
        assert r.status_code == 422 and r.json()["position"]["column"] == 20
        r = await http.post("/v1/segments", json={"name": "", "rule": "country = 'PT'"})
        assert r.status_code == 422
        seg = await create(http, "ok", "country = 'PT'")
        r = await http.patch(f"/v1/segments/{seg['id']}", json={"rule": "country = "})
        assert r.status_code == 422 and r.json()["position"]["offset"] == 10
        assert (await http.get(f"/v1/segments/{seg['id']}")).json()["rule"] == "country = 'PT'"
        assert (await http.get("/v1/segments/seg_missing")).status_code == 404


async def test_preview_counts_and_samples_without_storing(segments, broker: Broker):
    t = tag()
    async with segments.client() as http:
        people = [Customer(tags=[t], orders=[Order(1000 * (i + 1))]) for i in range(3)]
        for p in people:
            await broker.publish(p.event())
        for p in people:
            await profile_version(http, p.id, 1)
        before = (await http.get("/v1/segments", params={"limit": 500})).json()["items"]
        r = await http.post(
            "/v1/segments/preview",
            json={"rule": f"customer_tags CONTAINS '{t}' AND amount_spent >= 20", "sample_size": 1},
        )
        assert r.status_code == 200
        assert r.json()["count"] == 2 and len(r.json()["sample"]) == 1
        assert r.json()["sample"][0]["customer_id"] in {people[1].id, people[2].id}
        assert (await http.get("/v1/segments", params={"limit": 500})).json()["items"] == before


async def test_segments_crud_list_pages_and_delete_lets_members_leave(segments, broker: Broker):
    t = tag()
    async with segments.client() as http:
        ana = Customer(tags=[t])
        await broker.publish(ana.event())
        await profile_version(http, ana.id, 1)
        created = [await create(http, f"S{i}", f"customer_tags CONTAINS '{t}'") for i in range(3)]
        assert created[0]["version"] == 1 and created[0]["member_count"] == 0
        events = await broker.wait_for(
            "segment.created", lambda e: e["data"]["id"] in {s["id"] for s in created}, count=3
        )
        assert {e["body"]["data"]["rule"] for e in events} == {f"customer_tags CONTAINS '{t}'"}
        for s in created:
            await wait_membership(broker, "joined", s["id"], ana.id)

        seen, cursor = [], None
        while True:
            r = (
                await http.get("/v1/segments", params={"limit": 2, **({"cursor": cursor} if cursor else {})})
            ).json()
            seen += [s["id"] for s in r["items"]]
            cursor = r["next_cursor"]
            if not cursor:
                break
        assert {s["id"] for s in created} <= set(seen) and len(seen) == len(set(seen))

        got = (await http.get(f"/v1/segments/{created[0]['id']}")).json()
        assert got["name"] == "S0" and got["member_count"] == 1
        r = await http.get(f"/v1/customers/{ana.id}/segments", params={"limit": 2})
        assert len(r.json()["items"]) == 2 and r.json()["next_cursor"]

        assert (await http.delete(f"/v1/segments/{created[0]['id']}")).status_code == 204
        await broker.wait_for("segment.deleted", lambda e: e["data"]["id"] == created[0]["id"])
        left = await wait_membership(broker, "left", created[0]["id"], ana.id)
        assert left["data"]["segment_name"] == "S0"
        assert (await http.get(f"/v1/segments/{created[0]['id']}")).status_code == 404
        assert (await http.delete(f"/v1/segments/{created[0]['id']}")).status_code == 404
        r = await http.get(f"/v1/customers/{ana.id}/segments")
        assert {s["segment_id"] for s in r.json()["items"]} >= {created[1]["id"], created[2]["id"]}
        assert created[0]["id"] not in {s["segment_id"] for s in r.json()["items"]}


async def test_groups_store_credit_and_consent_feed_the_rules(segments, broker: Broker):
    t = tag()
    group_id = f"grp_{t}"
    async with segments.client() as http:
        seg = await create(
            http,
            "Wholesale with credit",
            f"customer_groups CONTAINS 'Wholesale {t}' AND store_credit_balance >= 10 AND email_subscribed = true",
        )
        probe = await Probe(http, broker).create()
        bo = Customer(tags=[t])
        # The group and ledger events may come before the customer itself.
        await broker.publish(group_members("added", group_id, f"Wholesale {t}", [bo.id]))
        await broker.publish(ledger_entry(bo.id, 1500, sequence=2))
        await broker.publish(ledger_entry(bo.id, 0, sequence=1))  # older, arrives late: ignored
        await broker.publish(bo.event())
        joined = await wait_membership(broker, "joined", seg["id"], bo.id)
        assert joined["data"]["email"] == bo.email
        profile = (await http.get(f"/v1/customers/{bo.id}/profile")).json()
        assert profile["store_credit_balance"] == 1500 and profile["customer_groups"] == [f"Wholesale {t}"]

        bo.email_subscribed = False  # consent withdrawn
        await broker.publish(bo.event())
        left = await wait_membership(broker, "left", seg["id"], bo.id)
        assert left["data"]["email_subscribed"] is False
        bo.email_subscribed = True
        await broker.publish(bo.event())
        await broker.wait_for(
            "segment.member.joined", lambda e: e["data"]["segment_id"] == seg["id"], count=2
        )

        # The group is renamed: its members no longer match 'Wholesale ...'.
        await broker.publish(
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "/crm/groups",
                "type": "group.updated",
                "time": "2026-11-22T10:00:00Z",
                "data": {"id": group_id, "version": 2, "name": f"Retail {t}"},
            }
        )
        await broker.wait_for("segment.member.left", lambda e: e["data"]["segment_id"] == seg["id"], count=2)
        await probe.sync(bo.id)
        assert len(membership(broker, "joined", seg["id"], bo.id)) == 2
        assert len(membership(broker, "left", seg["id"], bo.id)) == 2
        profile = (await http.get(f"/v1/customers/{bo.id}/profile")).json()
        assert f"Retail {t}" in profile["customer_groups"]


async def test_deleted_customer_leaves_every_segment_without_personal_data(segments, broker: Broker):
    t = tag()
    async with segments.client() as http:
        seg = await create(http, "Tagged", f"customer_tags CONTAINS '{t}'")
        cy = Customer(tags=[t])
        await broker.publish(cy.event())
        await wait_membership(broker, "joined", seg["id"], cy.id)
        await broker.publish(
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "/crm/customers",
                "type": "customer.deleted",
                "time": "2026-11-22T10:00:00Z",
                "data": {"id": cy.id},
            }
        )
        left = await wait_membership(broker, "left", seg["id"], cy.id)
        assert left["data"] == {
            "segment_id": seg["id"],
            "segment_name": "Tagged",
            "customer_id": cy.id,
            "email": None,
            "email_subscribed": None,
        }
        assert (await http.get(f"/v1/customers/{cy.id}/profile")).status_code == 404
        assert (await http.get(f"/v1/customers/{cy.id}/segments")).status_code == 404
        # A late update of the erased customer does not bring them back.
        await broker.publish(cy.event())
        other = Customer(tags=[t])
        await broker.publish(other.event())
        await wait_membership(broker, "joined", seg["id"], other.id)
        assert (await http.get(f"/v1/customers/{cy.id}/profile")).status_code == 404
        assert len(membership(broker, "joined", seg["id"], cy.id)) == 1


async def test_relative_dates_are_re_evaluated_as_time_passes(segments, broker: Broker):
    t = tag()
    async with segments.client() as http:
        seg = await create(http, "Recent buyers", f"last_order_date > -90d AND customer_tags CONTAINS '{t}'")
        # The last order turns 90 days old some seconds from now; no event will say so.
        recent = Customer(tags=[t], orders=[Order(1000, days_ago=90 - 12 / 86400)])
        await broker.publish(recent.event())
        await wait_membership(broker, "joined", seg["id"], recent.id)
        await wait_membership(broker, "left", seg["id"], recent.id, timeout=60)
        assert (await http.get(f"/v1/segments/{seg['id']}")).json()["member_count"] == 0


async def test_end_to_end_an_order_at_the_storefront_makes_a_member(system, segments, broker: Broker):
    system.service("customers")
    email = f"e2e.{uuid.uuid4().hex[:6]}@example.com"
    async with segments.client() as http:
        seg = await create(http, "Guests", f"has_account = false AND email = '{email}'")
        await broker.publish(
            {
                "specversion": "1.0",
                "id": str(uuid.uuid4()),
                "source": "/storefronts/eu",
                "type": "order.placed",
                "time": "2026-11-22T10:00:00Z",
                "data": {
                    "order_id": f"ord_{uuid.uuid4().hex[:8]}",
                    "placed_at": "2026-11-22T10:00:00Z",
                    "customer": {"email": email},
                    "currency": "EUR",
                    "total": 2500,
                    "items": [{"sku": "SKU-9", "category": "socks", "quantity": 1, "unit_price": 2500}],
                },
            }
        )
        found = await broker.wait_for("segment.member.joined", lambda e: e["data"]["segment_id"] == seg["id"])
        assert found[0]["body"]["data"]["email"] == email


async def test_a_burst_of_reordered_duplicated_updates_and_edits_keeps_joins_and_leaves_alternating(
    segments, broker: Broker
):
    t = tag()
    async with segments.client() as http:
        seg = await create(http, "Burst", f"amount_spent >= 50 AND customer_tags CONTAINS '{t}'")
        probe = await Probe(http, broker).create()
        people = [Customer(tags=[t]) for _ in range(4)]
        versions: dict[str, list[dict]] = {}
        for c in people:
            versions[c.id] = []
            for i in range(8):  # 0, 60, 0, 60, ... EUR: in and out of the segment
                c.orders = [Order(6000)] if i % 2 else []
                versions[c.id].append(c.event())
        burst = [e for evs in versions.values() for e in evs]
        burst += burst[::3]  # redeliveries
        random_order = sorted(burst, key=lambda e: hash(e["id"]) % 97)
        for i, e in enumerate(random_order):
            await broker.publish(e)
            if i == len(random_order) // 2:  # a rule edit and back, racing the live updates
                assert (
                    await http.patch(
                        f"/v1/segments/{seg['id']}", json={"rule": f"customer_tags CONTAINS '{t}'"}
                    )
                ).status_code == 200
                assert (
                    await http.patch(
                        f"/v1/segments/{seg['id']}",
                        json={"rule": f"amount_spent >= 50 AND customer_tags CONTAINS '{t}'"},
                    )
                ).status_code == 200
        for c in people:
            await profile_version(http, c.id, 8)

        async def settled():
            r = await http.get(f"/v1/segments/{seg['id']}")
            return r.json()["member_count"] == len(people)

        await eventually(settled)  # the newest version of each has 60 EUR
        for c in people:
            await probe.sync(c.id)
        for c in people:
            events = [
                m["body"]
                for m in broker.received
                if m["routing_key"].startswith("segment.member.")
                and m["body"]["data"]["segment_id"] == seg["id"]
                and m["body"]["data"]["customer_id"] == c.id
            ]
            kinds = [e["type"].rsplit(".", 1)[1] for e in events]
            assert kinds and kinds[0] == "joined" and kinds[-1] == "joined", kinds
            assert all(a != b for a, b in zip(kinds, kinds[1:], strict=False)), kinds  # never two in a row
        r = await http.get(f"/v1/segments/{seg['id']}/members", params={"limit": 3})
        page2 = await http.get(
            f"/v1/segments/{seg['id']}/members", params={"limit": 3, "cursor": r.json()["next_cursor"]}
        )
        ids = [m["customer_id"] for m in r.json()["items"] + page2.json()["items"]]
        assert sorted(ids) == sorted(c.id for c in people) and page2.json()["next_cursor"] is None


async def test_a_new_segment_is_computed_over_all_existing_profiles(segments, broker: Broker):
    t = tag()
    people = [Customer(tags=[t], country="PT" if i % 3 else "ES") for i in range(150)]
    for c in people:
        await broker.publish(c.event())
    async with segments.client() as http:

        async def all_in():
            r = await http.post(
                "/v1/segments/preview", json={"rule": f"customer_tags CONTAINS '{t}'", "sample_size": 0}
            )
            return r.json()["count"] == len(people)

        await eventually(all_in, timeout=60)
        seg = await create(http, "Spain", f"country = 'ES' AND customer_tags CONTAINS '{t}'")
        spanish = {c.id for c in people if c.country == "ES"}
        joined = await broker.wait_for(
            "segment.member.joined",
            lambda e: e["data"]["segment_id"] == seg["id"],
            count=len(spanish),
            timeout=60,
        )
        assert {e["body"]["data"]["customer_id"] for e in joined} == spanish
        assert (await http.get(f"/v1/segments/{seg['id']}")).json()["member_count"] == len(spanish)
        probe = await Probe(http, broker).create()
        await probe.sync(people[0].id)
        assert len(membership(broker, "joined", seg["id"])) == len(spanish)
