"""Issue 2, point 8: the first vertical slice through real RabbitMQ and a real MongoDB-protocol
server. A storefront publishes with plain aio-pika; the customers service runs as a process."""

import json
import uuid

from harness import Broker, envelope, eventually, order_placed


async def test_order_placed_creates_a_guest_and_publishes_customer_created(system, broker: Broker):
    customers = system.service("customers")
    email = f"Ana.{uuid.uuid4().hex[:6]}@Example.com"
    event = envelope("order.placed", order_placed(email))
    await broker.publish(event)

    # E-mail domains are normalised to lower case; the local part is kept as given.
    created = await broker.wait_for("customer.created", lambda b: b["data"]["email"].lower() == email.lower())
    msg = created[0]
    body = msg["body"]
    assert body["specversion"] == "1.0" and body["type"] == "customer.created"
    assert msg["message_id"] == body["id"] and msg["persistent"]
    assert msg["content_type"] == "application/cloudevents+json"
    assert body["data"]["has_account"] is False and body["data"]["version"] == 1
    assert body["subject"] == body["data"]["id"]

    async with customers.client() as http:
        r = await http.get(f"/v1/customers/{body['data']['id']}")
    assert r.status_code == 200
    assert r.json()["email"] == email.split("@")[0] + "@example.com" and r.json()["first_name"] == "Ana"


async def test_same_email_in_other_case_is_the_same_customer(system, broker: Broker):
    system.service("customers")
    email = f"bo.{uuid.uuid4().hex[:6]}@example.com"
    await broker.publish(envelope("order.placed", order_placed(email)))
    await broker.publish(envelope("order.placed", order_placed(email.upper())))
    await broker.wait_for("customer.created", lambda b: b["data"]["email"].lower() == email)
    # Both orders are processed once the second is visible; give stragglers time to show up.
    created = await eventually(
        lambda: _settled(broker, lambda b: b["data"]["email"].lower() == email), timeout=5, interval=1.5
    )
    assert len(created) == 1


async def _settled(broker: Broker, pred):
    return broker.events("customer.created", pred) or None


async def test_malformed_message_is_dead_lettered_with_reason_and_next_is_processed(system, broker: Broker):
    system.service("customers")
    bad_json = b'{"specversion": "1.0", "id": '
    await broker.publish(bad_json, routing_key="order.placed")
    wrong_payload = envelope("order.placed", {"order_id": "x", "total": "lots"})
    await broker.publish(wrong_payload)
    email = f"next.{uuid.uuid4().hex[:6]}@example.com"
    await broker.publish(envelope("order.placed", order_placed(email)))

    await broker.wait_for("customer.created", lambda b: b["data"]["email"] == email)
    dead = await broker.dead_letters("customers", expect=2)
    reasons = {m.body: m.headers["x-crm-reason"] for m in dead}
    assert reasons[bad_json].startswith("malformed JSON")
    payload_reason = reasons[json.dumps(wrong_payload).encode()]
    assert "invalid data for order.placed" in payload_reason and "total" in payload_reason
    assert all(m.headers["x-crm-original-routing-key"] == "order.placed" for m in dead)

    # Logs are JSON, and the record of the dead-lettering carries the event id.
    records = [json.loads(line) for line in system.processes["customers"].log_path.read_text().splitlines()]
    assert any(r.get("event_id") == wrong_payload["id"] and r["level"] == "ERROR" for r in records)


async def test_http_without_or_with_wrong_token_is_401_problem(system, token):
    customers = system.service("customers")
    for bad in (None, "wrong-token-0123456789"):
        async with customers.client(token=bad) as http:
            r = await http.get("/v1/customers/cus_x")
        assert r.status_code == 401
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/problems/unauthorized")
    async with customers.client() as http:
        assert (await http.get("/v1/customers/cus_missing")).status_code == 404
        assert (await http.get("/healthz")).status_code == 200


async def test_health_endpoints_need_no_token(system):
    customers = system.service("customers")
    async with customers.client(token=None) as http:
        assert (await http.get("/healthz")).json() == {"status": "ok"}
        ready = await http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "broker": "ok"}
        assert "crm_events_consumed_total" in (await http.get("/metrics")).text
        assert (await http.get("/openapi.json")).json()["info"]["title"] == "CRM customers"


async def test_operator_lists_dead_letters_with_reasons_and_replays_chosen_ones(system, broker: Broker):
    import subprocess
    import sys

    system.service("customers")
    first = envelope("order.placed", {"order_id": "bad-1"})
    second = envelope("order.placed", {"order_id": "bad-2"})
    await broker.publish(first)
    await broker.publish(second)
    env = {"RABBITMQ_URL": system.rabbit_url, "PATH": ""}
    cli = [sys.executable, "-m", "crm_servicekit.deadletters"]

    async def listed():
        out = subprocess.run([*cli, "list", "customers"], env=env, capture_output=True, text=True, check=True)
        items = [json.loads(line) for line in out.stdout.splitlines()]
        return items if {i["message_id"] for i in items} >= {first["id"], second["id"]} else None

    items = {i["message_id"]: i for i in await eventually(listed)}
    assert "invalid data for order.placed" in items[first["id"]]["reason"]
    assert items[first["id"]]["routing_key"] == "order.placed"
    # Listing changed nothing: both are still there.
    assert {first["id"], second["id"]} <= {i["message_id"] for i in await listed()}

    out = subprocess.run(
        [*cli, "replay", "customers", first["id"]], env=env, capture_output=True, text=True, check=True
    )
    assert "replayed 1" in out.stderr
    # The replayed message was consumed again (and, still invalid, dead-lettered again with a
    # fresh reason); the other one never left the dead-letter queue.
    dead = await broker.dead_letters("customers", expect=2)
    assert sorted(m.message_id for m in dead) == sorted([first["id"], second["id"]])


async def test_text_with_nul_is_refused_up_front_and_stores_nothing(system, broker: Broker):
    """PostgreSQL (under FerretDB) cannot store U+0000: an event carrying it is dead-lettered
    with that reason, a request gets 422, and nothing of either is stored."""
    customers = system.service("customers")
    email = f"nul.{uuid.uuid4().hex[:6]}@example.com"
    order = order_placed(email)
    order["customer"]["first_name"] = "An\u0000a"
    bad = envelope("order.placed", order)
    await broker.publish(bad)
    after = f"after-nul.{uuid.uuid4().hex[:6]}@example.com"
    await broker.publish(envelope("order.placed", order_placed(after)))
    await broker.wait_for("customer.created", lambda b: b["data"]["email"] == after)
    [dead] = [m for m in await broker.dead_letters("customers", expect=1) if m.message_id == bad["id"]]
    assert "U+0000" in dead.headers["x-crm-reason"]

    async with customers.client() as http:
        r = await http.post("/v1/customers", json={"email": f"x{email}", "first_name": "Bo\u0000b"})
        assert r.status_code == 422 and r.headers["content-type"].startswith("application/problem+json")
        assert "U+0000" in r.json()["detail"]
        found = (await http.get("/v1/customers", params={"q": email.split("@")[0]})).json()["items"]
        assert found == []
        assert (await http.get("/v1/customers/cus%00x")).status_code == 422
