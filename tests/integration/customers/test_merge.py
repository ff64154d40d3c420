"""Staff merge two customer records (issue 15) through the real broker and FerretDB: orders,
notes, tasks, addresses and tags move to the kept record, the other goes with
`customer.merged`, later orders with its e-mail land on the kept record, and an audit record
says who merged what and when."""

import uuid

import pytest

from harness import Broker, envelope, eventually, order_placed


def unique_email(name: str) -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture
def customers(system):
    return system.service("customers")


async def _orders_of(http, customer_id: str, n: int) -> dict:
    async def counted():
        c = (await http.get(f"/v1/customers/{customer_id}")).json()
        return c if c.get("stats", {}).get("number_of_orders") == n else None

    return await eventually(counted)


async def test_merging_moves_everything_to_the_kept_record_with_an_audit(customers, broker: Broker):
    kept_email, other_email = unique_email("kept"), unique_email("other")
    async with customers.client() as http:
        kept = (
            await http.post(
                "/v1/customers",
                json={
                    "email": kept_email,
                    "tags": ["vip"],
                    "addresses": [
                        {
                            "type": "shipping",
                            "line1": "Rua B 2",
                            "city": "Lisboa",
                            "country_code": "PT",
                            "is_default": True,
                        }
                    ],
                },
            )
        ).json()
        await broker.publish(envelope("order.placed", order_placed(kept_email, order_id="ord_m_k1")))
        for order_id in ("ord_m_o1", "ord_m_o2"):
            await broker.publish(envelope("order.placed", order_placed(other_email, order_id=order_id)))
        await _orders_of(http, kept["id"], 1)
        other = (await http.get("/v1/customers", params={"q": other_email})).json()["items"][0]
        await _orders_of(http, other["id"], 2)
        await http.patch(f"/v1/customers/{other['id']}", json={"tags": ["wholesale", "vip"]})
        assert (
            await http.post(
                f"/v1/customers/{other['id']}/addresses",
                json={"type": "billing", "line1": "Rua C 3", "city": "Porto", "country_code": "PT"},
            )
        ).status_code == 201
        assert (
            await http.post(f"/v1/customers/{other['id']}/notes", json={"body": "called twice"})
        ).status_code == 201
        task = (
            await http.post(
                f"/v1/customers/{other['id']}/tasks",
                json={"title": "Send catalogue", "due_at": "2026-12-20T10:00:00Z"},
            )
        ).json()

        r = await http.post(
            f"/v1/customers/{kept['id']}/merge",
            json={"from_customer_id": other["id"]},
            headers={"X-CRM-Operator": "maria@shop.example"},
        )
        assert r.status_code == 200, r.text
        result = r.json()
        merged = result["customer"]
        assert merged["id"] == kept["id"] and merged["stats"]["number_of_orders"] == 3
        assert merged["tags"] == ["vip", "wholesale"]
        assert {(a["type"], a["city"]) for a in merged["addresses"]} >= {
            ("shipping", "Lisboa"),
            ("billing", "Porto"),
        }
        assert [a["city"] for a in merged["addresses"] if a["type"] == "shipping" and a["is_default"]] == [
            "Lisboa"
        ]
        audit = result["merge"]
        assert (audit["kept_id"], audit["merged_id"], audit["merged_email"], audit["merged_by"]) == (
            kept["id"],
            other["id"],
            other_email,
            "maria@shop.example",
        )
        assert audit["moved"]["orders"] == 2 and audit["moved"]["notes"] == 1 and audit["moved"]["tasks"] == 1
        assert audit["moved"]["tags"] == ["wholesale"] and audit["moved"]["addresses"] >= 1
        assert audit["completed_at"] is not None

        # The other record is gone; what it held is the kept record's.
        assert (await http.get(f"/v1/customers/{other['id']}")).status_code == 404
        orders = (await http.get(f"/v1/customers/{kept['id']}/orders")).json()["items"]
        assert sorted(o["order_id"] for o in orders) == ["ord_m_k1", "ord_m_o1", "ord_m_o2"]
        notes = (await http.get(f"/v1/customers/{kept['id']}/notes")).json()["items"]
        assert [n["body"] for n in notes] == ["called twice"]
        assert (await http.get(f"/v1/tasks/{task['id']}")).json()["customer_id"] == kept["id"]
        (said,) = await broker.wait_for("customer.merged", lambda b: b["data"]["merged_id"] == other["id"])
        assert said["body"]["data"]["id"] == kept["id"]
        await broker.wait_for(
            "task.updated", lambda b: b["data"]["id"] == task["id"] and b["data"]["customer_id"] == kept["id"]
        )
        assert [m["merged_id"] for m in (await http.get(f"/v1/customers/{kept['id']}/merges")).json()] == [
            other["id"]
        ]

        # A later order with the merged record's e-mail lands on the kept record.
        await broker.publish(envelope("order.placed", order_placed(other_email, order_id="ord_m_o3")))
        await _orders_of(http, kept["id"], 4)
        assert [
            c["id"] for c in (await http.get("/v1/customers", params={"q": other_email})).json()["items"]
        ] == []

        # Refused: into itself (422), an unknown or already merged record (404), nothing changes.
        same = await http.post(f"/v1/customers/{kept['id']}/merge", json={"from_customer_id": kept["id"]})
        assert same.status_code == 422
        again = await http.post(f"/v1/customers/{kept['id']}/merge", json={"from_customer_id": other["id"]})
        assert again.status_code == 404
        assert (await http.post(f"/v1/customers/{kept['id']}/merge", json={})).status_code == 422


async def test_a_record_merged_into_two_others_at_once_goes_to_one(customers, broker: Broker):
    import asyncio

    async with customers.client() as http:
        a, b, x = [(await http.post("/v1/customers", json={"email": unique_email(n)})).json() for n in "abx"]
        await broker.publish(envelope("order.placed", order_placed(x["email"], order_id="ord_m_x1")))
        await _orders_of(http, x["id"], 1)
        tries = await asyncio.gather(
            *(http.post(f"/v1/customers/{k['id']}/merge", json={"from_customer_id": x["id"]}) for k in (a, b))
        )
        codes = sorted(t.status_code for t in tries)
        assert codes[0] == 200 and codes[1] in (404, 409), [t.text for t in tries]
        winner = next(t.json()["customer"]["id"] for t in tries if t.status_code == 200)
        loser = b["id"] if winner == a["id"] else a["id"]
        assert (await http.get(f"/v1/customers/{winner}")).json()["stats"]["number_of_orders"] == 1
        assert (await http.get(f"/v1/customers/{loser}")).json()["stats"]["number_of_orders"] == 0
        if codes[1] == 409:
            refused = next(t for t in tries if t.status_code == 409).json()
            assert refused["type"].endswith("/already-merged") and refused["kept_id"] == winner
