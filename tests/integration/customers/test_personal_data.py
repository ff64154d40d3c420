"""Personal data across services (issue 15, GDPR) through the real broker and FerretDB: an
export that the other services answer (their answers are published here through the broker, as
those services would), and erasure scheduled after a grace period, cancellable until a
periodic job carries it out, once, with two replicas running."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness import Broker, ServiceProcess, envelope, eventually, order_placed

OTHERS = ["groups", "ledger", "segments", "engagement"]
JOB = {"CRM_CUSTOMERS_ERASURE_JOB_SECONDS": "0.3"}


def unique_email(name: str = "ana") -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


def at(dt: str) -> datetime:
    return datetime.fromisoformat(dt.replace("Z", "+00:00"))


@pytest.fixture
def customers(system):
    return system.service("customers", **JOB)


@pytest.fixture
def replica(system, customers):
    """A second process of the customers service on the same database and queue."""
    proc = system.processes.get("customers-2")
    if proc is None or proc.proc is None or proc.proc.poll() is not None:
        proc = ServiceProcess("customers", dict(customers.env), system.logs / f"{system.tag}-customers-2.log")
        system.processes["customers-2"] = proc
        proc.start(**JOB)
    return proc


def collected(request_id: str, customer_id: str, service: str, data: dict, id_: str | None = None) -> dict:
    return envelope(
        "personal_data.collected",
        {
            "request_id": request_id,
            "customer_id": customer_id,
            "service": service,
            "data": data,
            "collected_at": datetime.now(UTC).isoformat(),
        },
        id_=id_ or f"{request_id}|{service}",
        source=f"/crm/{service}",
    )


async def new_customer(http, **extra) -> dict:
    r = await http.post("/v1/customers", json={"email": unique_email(), "first_name": "Ana", **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def test_an_export_collects_every_services_part_into_one_document(customers, broker: Broker):
    email = unique_email()
    async with customers.client() as http:
        c = await new_customer(http, email=email, notes=[{"body": "prefers e-mail", "author": "rita"}])
        await broker.publish(envelope("order.placed", order_placed(email, order_id="ord_pd_1")))
        await eventually(
            lambda: _orders(http, c["id"]),
        )
        task = await http.post(
            f"/v1/customers/{c['id']}/tasks",
            json={"title": "Call back", "due_at": "2026-12-20T10:00:00+00:00"},
        )
        assert task.status_code == 201, task.text

        r = await http.post(
            f"/v1/customers/{c['id']}/personal-data-requests", headers={"X-CRM-Operator": "dpo@shop.example"}
        )
        assert r.status_code == 202, r.text
        req = r.json()
        assert req["status"] == "collecting" and req["completed_at"] is None
        assert req["requested_by"] == "dpo@shop.example"
        assert req["parts"] == {"answered": [], "awaited": OTHERS}
        assert r.headers["Location"] == f"/v1/personal-data-requests/{req['id']}"

        # Published through the outbox, its id the request's (a redelivery is the same event).
        (asked,) = await broker.wait_for(
            "personal_data.requested", lambda b: b["data"]["request_id"] == req["id"]
        )
        assert asked["message_id"] == req["id"] and asked["body"]["data"]["customer_id"] == c["id"]

        # The other services answer (here: published as they would, through the broker).
        memberships = {"memberships": [{"group_id": "grp_vip", "since": "2026-11-20T08:00:00Z"}]}
        await broker.publish(collected(req["id"], c["id"], "groups", memberships))
        await broker.publish(collected(req["id"], c["id"], "ledger", {"accounts": [], "entries": []}))
        await broker.publish(collected(req["id"], c["id"], "segments", {"memberships": []}))

        async def three_answered():
            doc = (await http.get(f"/v1/personal-data-requests/{req['id']}")).json()
            return doc if len(doc["parts"]["answered"]) == 3 else None

        doc = await eventually(three_answered)
        assert doc["status"] == "collecting" and doc["parts"]["awaited"] == ["engagement"]
        assert doc["services"]["groups"]["data"] == memberships

        # A second answer of one service (another event id) does not replace the first.
        await broker.publish(
            collected(req["id"], c["id"], "groups", {"memberships": []}, id_=str(uuid.uuid4()))
        )
        await broker.publish(collected(req["id"], c["id"], "engagement", {"contact": {}, "messages": []}))

        async def complete():
            d = (await http.get(f"/v1/personal-data-requests/{req['id']}")).json()
            return d if d["status"] == "complete" else None

        doc = await eventually(complete)
        assert doc["parts"]["awaited"] == [] and sorted(doc["parts"]["answered"]) == sorted(OTHERS)
        assert at(doc["completed_at"]) >= at(doc["requested_at"])
        assert doc["services"]["groups"]["data"] == memberships
        own = doc["customers"]
        assert own["customer"]["email"] == email
        assert [o["order_id"] for o in own["orders"]] == ["ord_pd_1"]
        assert [n["body"] for n in own["notes"]] == ["prefers e-mail"]
        assert [t["title"] for t in own["tasks"]] == ["Call back"]
        assert own["versions"][0]["version"] == 1
        assert "hash" not in str(own["password"])

        # Unknown customer, unknown request
        assert (await http.post("/v1/customers/cus_nope/personal-data-requests")).status_code == 404
        missing = await http.get("/v1/personal-data-requests/pdr_nope")
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


async def _orders(http, customer_id: str):
    return (await http.get(f"/v1/customers/{customer_id}/orders")).json()["items"]


async def test_an_answer_to_an_unknown_request_is_dead_lettered_with_the_reason(customers, broker: Broker):
    async with customers.client() as http:
        c = await new_customer(http)
    stray = collected("pdr_unknown", c["id"], "ledger", {"accounts": []})
    await broker.publish(stray)
    dead = await broker.dead_letters("customers", expect=1)
    assert [m.message_id for m in dead] == [stray["id"]]
    assert "pdr_unknown" in dead[0].headers["x-crm-reason"]


async def test_erasure_is_scheduled_cancellable_then_carried_out_once_with_confirmations(
    customers, replica, broker: Broker
):
    staff = {"X-CRM-Operator": "dpo@shop.example"}
    async with customers.client() as http, replica.client() as other:
        c = await new_customer(http)
        base = f"/v1/customers/{c['id']}/erasure-requests"

        # Scheduled after the default grace period (10 days), with who asked.
        r = await http.post(base, headers=staff)
        assert r.status_code == 202, r.text
        first = r.json()
        assert first["status"] == "scheduled" and first["grace_days"] == 10
        assert first["requested_by"] == "dpo@shop.example"
        assert at(first["due_at"]) - at(first["requested_at"]) == timedelta(days=10)
        assert (await http.get(f"/v1/erasure-requests/{first['id']}")).json()["status"] == "scheduled"

        # One open erasure per customer, whichever replica is asked.
        again = await other.post(base, json={"grace_days": 0})
        assert again.status_code == 409 and again.json()["type"].endswith("/erasure-pending")
        assert again.json()["request_id"] == first["id"]
        for bad in (-1, 366, "soon"):
            assert (await http.post(base, json={"grace_days": bad})).status_code == 422
        assert (await http.post("/v1/customers/cus_nope/erasure-requests")).status_code == 404

        listed = (await http.get("/v1/erasure-requests", params={"status": "scheduled"})).json()["items"]
        assert first["id"] in [e["id"] for e in listed]

        # Cancelled until carried out (and cancelling twice changes nothing).
        cancelled = await http.delete(f"/v1/erasure-requests/{first['id']}", headers=staff)
        assert cancelled.status_code == 200, cancelled.text
        assert (
            cancelled.json()["status"] == "cancelled"
            and cancelled.json()["cancelled_by"] == "dpo@shop.example"
        )
        assert (await http.post(f"/v1/erasure-requests/{first['id']}/cancel")).json()["status"] == "cancelled"
        # Announced for the storefront and the marketing systems, once each (both replicas'
        # relays may publish one record: the same event id, at least once).
        scheduled = await broker.wait_for(
            "customer.erasure.scheduled", lambda b: b["data"]["request_id"] == first["id"]
        )
        assert len({e["body"]["id"] for e in scheduled}) == 1
        assert scheduled[0]["body"]["data"]["customer_id"] == c["id"]
        assert at(scheduled[0]["body"]["data"]["due_at"]) == at(first["due_at"])
        gone = await broker.wait_for(
            "customer.erasure.cancelled", lambda b: b["data"]["request_id"] == first["id"]
        )
        assert len({e["body"]["id"] for e in gone}) == 1
        assert gone[0]["body"]["data"]["status"] == "cancelled"
        assert gone[0]["body"]["crmoperator"] == "dpo@shop.example"

        # Now due at once: the job of either replica carries it out, exactly once.
        r = await other.post(base, json={"grace_days": 0}, headers=staff)
        assert r.status_code == 202, r.text
        due = r.json()

        async def carried_out():
            e = (await http.get(f"/v1/erasure-requests/{due['id']}")).json()
            return e if e["status"] == "carried_out" else None

        done = await eventually(carried_out)
        assert at(done["carried_out_at"]) >= at(done["due_at"])
        assert (await http.get(f"/v1/customers/{c['id']}")).status_code == 404
        await broker.wait_for("customer.deleted", lambda b: b["data"]["id"] == c["id"])
        late = await http.delete(f"/v1/erasure-requests/{due['id']}")
        assert late.status_code == 409 and late.json()["type"].endswith("/erasure-carried-out")
        assert late.json()["erasure_status"] == "carried_out"
        # The cancelled request stays cancelled; the record outlives the customer.
        history = (await http.get(base)).json()
        assert [(e["id"], e["status"]) for e in history] == [
            (due["id"], "carried_out"),
            (first["id"], "cancelled"),
        ]

        # Each service confirms (stored once per service).
        for service in ("groups", "ledger"):
            erased = envelope(
                "personal_data.erased",
                {
                    "customer_id": c["id"],
                    "service": service,
                    "erased": {"memberships": 2},
                    "at": "2026-12-01T10:00:00Z",
                },
                id_=f"{c['id']}|{service}|erased",
                source=f"/crm/{service}",
            )
            await broker.publish(erased)
            await broker.publish(erased)

        async def confirmed():
            e = (await http.get(f"/v1/erasure-requests/{due['id']}")).json()
            return e if len(e["confirmations"]) == 2 else None

        e = await eventually(confirmed)
        assert [x["service"] for x in e["confirmations"]] == ["groups", "ledger"]
        assert e["confirmations"][0]["erased"] == {"memberships": 2}
        assert e["awaiting_confirmation"] == ["segments", "engagement"]
        carried = (await http.get("/v1/erasure-requests", params={"status": "carried_out"})).json()["items"]
        assert due["id"] in [x["id"] for x in carried]


async def test_due_erasures_of_many_customers_are_carried_out_once_each_with_two_replicas(
    customers, replica, broker: Broker
):
    async with customers.client() as http, replica.client() as other:
        ids = [(await new_customer(http))["id"] for _ in range(6)]
        requests = []
        for i, cid in enumerate(ids):
            task = await http.post(
                f"/v1/customers/{cid}/tasks", json={"title": "t", "due_at": "2026-12-20T10:00:00+00:00"}
            )
            assert task.status_code == 201
            r = await (http if i % 2 else other).post(
                f"/v1/customers/{cid}/erasure-requests", json={"grace_days": 0}
            )
            assert r.status_code == 202, r.text
            requests.append(r.json()["id"])

        async def all_gone():
            found = await asyncio.gather(*(http.get(f"/v1/customers/{cid}") for cid in ids))
            return all(f.status_code == 404 for f in found)

        await eventually(all_gone, timeout=30)
        await asyncio.sleep(2)  # several more runs of both jobs
        # One event each (one id; two relays may both publish a record: consumers dedupe by id).
        for cid in ids:
            deleted = broker.events("customer.deleted", lambda b, cid=cid: b["data"]["id"] == cid)
            assert len({m["message_id"] for m in deleted}) == 1
            tasks = broker.events("task.deleted", lambda b, cid=cid: b["data"]["customer_id"] == cid)
            assert len({m["message_id"] for m in tasks}) == 1
        # The erase use case ran once per request, in one replica or the other (its log line).
        logs = customers.log_path.read_text() + replica.log_path.read_text()
        for request_id in requests:
            assert logs.count(f"erasure {request_id} of") == 1
