"""What an operator sees (issue 20): every answer carries a request id (the caller's, if it
looks like one), which is on the access log line and on the events the request caused; /metrics
has request durations, the outbox backlog, consumer lag and dead letters waiting."""

import json
import re
import uuid

from harness import Broker, eventually


def metric(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            got = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
            if all(got.get(k) == v for k, v in labels.items()):
                return float(line.rsplit(" ", 1)[1])
    return None


async def test_a_request_id_follows_the_request_into_logs_and_events(system, broker: Broker):
    customers = system.service("customers")
    email = f"rid.{uuid.uuid4().hex[:6]}@example.com"
    async with customers.client() as http:
        r = await http.post("/v1/customers", json={"email": email}, headers={"X-Request-ID": "checkout-42.a"})
        assert r.status_code == 201 and r.headers["X-Request-ID"] == "checkout-42.a"
        generated = await http.get("/v1/customers/nope")
        weird = await http.get("/v1/customers/nope", headers={"X-Request-ID": "no spaces <allowed>"})
    async with customers.client(token="wrong-token-wrong-token") as anonymous:
        refused = await anonymous.get("/v1/customers")
    for response in (generated, weird, refused):
        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"]), response.headers
    assert refused.status_code == 401

    created = await broker.wait_for("customer.created", lambda b: b["data"]["email"] == email)
    assert created[0]["body"]["crmrequestid"] == "checkout-42.a"

    async def access_line():
        for line in customers.log_path.read_text().splitlines():
            record = json.loads(line) if line.startswith("{") else {}
            if record.get("logger") == "crm.access" and record.get("request_id") == "checkout-42.a":
                return record
        return None

    record = await eventually(access_line)
    assert (record["method"], record["path"], record["status"]) == ("POST", "/v1/customers", 201)
    assert record["duration_ms"] >= 0


async def test_the_operator_a_client_names_is_on_the_events_the_log_and_the_note(system, broker: Broker):
    customers = system.service("customers")
    email = f"op.{uuid.uuid4().hex[:6]}@example.com"
    staff = {"X-CRM-Operator": "maria@shop.example"}
    async with customers.client() as http:
        created = await http.post("/v1/customers", json={"email": email}, headers=staff)
        customer_id = created.json()["id"]
        note = await http.post(f"/v1/customers/{customer_id}/notes", json={"body": "Called"}, headers=staff)
        unnamed = await http.post(f"/v1/customers/{customer_id}/notes", json={"body": "x"})
        bad = await http.post(
            f"/v1/customers/{customer_id}/notes", json={"body": "y"}, headers={"X-CRM-Operator": "a\tb"}
        )
    assert note.json()["author"] == "maria@shop.example"
    assert unnamed.json()["author"] is None and bad.json()["author"] is None

    event = await broker.wait_for("customer.created", lambda b: b["data"]["email"] == email)
    assert event[0]["body"]["crmoperator"] == "maria@shop.example"

    async def access_line():
        for line in customers.log_path.read_text().splitlines():
            record = json.loads(line) if line.startswith("{") else {}
            if record.get("logger") == "crm.access" and record.get("operator") == "maria@shop.example":
                return record
        return None

    assert (await eventually(access_line))["method"] == "POST"


async def test_metrics_show_durations_backlog_lag_and_dead_letters(system, broker: Broker):
    customers = system.service("customers", CRM_GAUGES_SECONDS="0.5")
    await broker.publish(b"{not json", routing_key="order.placed")  # dead-lettered

    async def scraped():
        async with customers.client() as http:
            await http.get("/v1/customers")
            text = (await http.get("/metrics")).text
        dead = metric(text, "crm_queue_messages", queue="customers.dead-letter")
        return text if dead is not None and dead >= 1 else None

    text = await eventually(scraped, timeout=30)
    assert metric(text, "crm_http_request_duration_seconds_count", method="GET", route="/v1/customers") >= 1
    assert metric(text, "crm_queue_messages", queue="customers.events") is not None
    assert metric(text, "crm_outbox_backlog") is not None
