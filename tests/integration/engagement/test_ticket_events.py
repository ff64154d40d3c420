"""Issue 18: a storefront or a helpdesk follows support tickets through ticket.created,
ticket.updated (the state with its version) and ticket.message.added; a staff reply is mailed
to the customer once, however often its event is delivered. As a process against RabbitMQ,
FerretDB and Mailpit."""

import asyncio
import uuid

import pytest

STAFF = {"X-CRM-Operator": "maria@shop.example"}
REPLY_TO = "support@shop.example"


@pytest.fixture
def svc(system, mailpit, helpers):
    return system.service(
        "engagement", **helpers["service_env"](mailpit, CRM_ENGAGEMENT_SUPPORT_REPLY_TO=REPLY_TO)
    )


def of(ticket_id):
    return lambda e: e["data"].get("id", e["data"].get("ticket_id")) == ticket_id


async def test_ticket_events_follow_the_ticket_and_its_thread(svc, broker, helpers):
    email = helpers["unique_email"]()
    async with svc.client() as http:
        r = await http.post(
            "/v1/tickets",
            json={"subject": "Parcel late", "email": email, "body": "Where is it?", "order_ids": ["ord_1"]},
            headers=STAFF,
        )
        assert r.status_code == 201, r.text
        ticket = r.json()
        tid = ticket["id"]
        [created] = await broker.wait_for("ticket.created", of(tid))
        state = created["body"]["data"]
        assert created["body"]["subject"] == tid and created["body"]["source"] == "/crm/engagement"
        assert state["version"] == 1 and state["status"] == "open" and state["email"] == email
        assert state["order_ids"] == ["ord_1"] and state["last_message_at"] is not None
        [first] = await broker.wait_for("ticket.message.added", of(tid))
        assert (
            first["body"]["data"]["direction"] == "inbound"
            and first["body"]["data"]["body"] == "Where is it?"
        )
        assert first["body"]["data"]["ticket_version"] == 1

        r = await http.post(
            f"/v1/tickets/{tid}/messages", json={"body": "Shipped today.", "status": "pending"}, headers=STAFF
        )
        assert r.status_code == 201, r.text
        [updated] = await broker.wait_for("ticket.updated", of(tid))
        assert updated["body"]["data"]["version"] == 2 and updated["body"]["data"]["status"] == "pending"
        assert updated["body"]["data"]["first_response_at"] is not None
        added = await broker.wait_for("ticket.message.added", of(tid), count=2)
        reply = next(m["body"]["data"] for m in added if m["body"]["data"]["direction"] == "outbound")
        assert reply["author"] == "maria@shop.example" and reply["ticket_version"] == 2

        r = await http.patch(f"/v1/tickets/{tid}", json={"priority": "high", "assignee_id": "agt_1"})
        assert r.status_code == 200, r.text
        found = await broker.wait_for("ticket.updated", of(tid), count=2)
        newest = max((m["body"]["data"] for m in found), key=lambda d: d["version"])
        assert newest["version"] == 3 and newest["priority"] == "high" and newest["assignee_id"] == "agt_1"

        # The customer answers: the ticket opens again, one version up, with the message.
        r = await http.post(
            "/v1/tickets/inbound", json={"email": email, "subject": f"Re: [{tid}]", "body": "Thanks!"}
        )
        assert r.status_code == 200, r.text
        found = await broker.wait_for("ticket.updated", of(tid), count=3)
        newest = max((m["body"]["data"] for m in found), key=lambda d: d["version"])
        assert newest["version"] == 4 and newest["status"] == "open"
        await broker.wait_for("ticket.message.added", of(tid), count=3)
        # Versions come in order per ticket: a follower can keep the newest.
        versions = [m["body"]["data"]["version"] for m in broker.events("ticket.updated", of(tid))]
        assert versions == sorted(versions)


async def test_a_staff_reply_is_mailed_to_the_customer_once_even_when_redelivered(
    svc, broker, mailpit, helpers
):
    email = helpers["unique_email"]()
    async with svc.client() as http:
        r = await http.post(
            "/v1/tickets/inbound", json={"email": email, "subject": "Wrong size", "body": "Can I swap?"}
        )
        assert r.status_code == 201, r.text
        tid = r.json()["id"]
        await asyncio.sleep(1)
        assert await mailpit.to(email) == []  # the customer's own message is not mailed back

        r = await http.post(
            f"/v1/tickets/{tid}/messages", json={"body": "Yes: <b>send it back</b>."}, headers=STAFF
        )
        assert r.status_code == 201, r.text
        [mail] = await mailpit.wait_to(email)
        assert mail["Subject"] == f"Re: Wrong size [{tid}]"
        full = await mailpit.message(mail["ID"])
        assert "Yes: <b>send it back</b>." in full["Text"] and "&lt;b&gt;" in full["HTML"]
        assert [a["Address"] for a in full["ReplyTo"]] == [REPLY_TO]

        [event] = [
            m["body"]
            for m in await broker.wait_for("ticket.message.added", of(tid), count=2)
            if m["body"]["data"]["direction"] == "outbound"
        ]
        # The same event again, and under a new id (a republished copy): still one mail.
        await broker.publish(event)
        await broker.publish({**event, "id": str(uuid.uuid4())})
        await asyncio.sleep(2)
        assert len(await mailpit.to(email)) == 1

        # A second reply is a second mail.
        r = await http.post(f"/v1/tickets/{tid}/messages", json={"body": "And a label."}, headers=STAFF)
        assert r.status_code == 201, r.text
        await mailpit.wait_to(email, count=2)
