"""Issue 15 (GDPR) and issue 18: the engagement service answers personal_data.requested with
what it holds about a customer (contact, consent, messages, tickets, reviews, survey answers)
and, on customer.deleted, erases or anonymises it and confirms with personal_data.erased; as
a process against RabbitMQ, FerretDB and Mailpit."""

import uuid
from datetime import UTC, datetime

from harness import envelope, eventually

STAFF = {"X-CRM-Operator": "maria@shop.example"}
KINDS = {"contact", "consent", "messages", "tickets", "reviews", "survey_answers"}


def now() -> str:
    return datetime.now(UTC).isoformat()


async def known_customer(engagement, people, mailpit) -> dict:
    """A customer with consent, a delivered mail, a ticket with a staff reply (mailed too) and a
    published review, all made through the service's events and API."""
    customer_id, email = await people.customer(consent=True)
    async with engagement.client() as http:

        async def consented():
            r = await http.get(f"/v1/customers/{customer_id}/contact")
            return r.status_code == 200 and r.json()["marketing_consent"]

        await eventually(consented)
        r = await http.post(f"/v1/customers/{customer_id}/messages", json={"template_id": "tpl_welcome"})
        assert r.status_code == 202, r.text
        message = r.json()
        r = await http.post(
            "/v1/tickets/inbound",
            json={"customer_id": customer_id, "subject": "Where is my parcel?", "body": "It is late, Ana"},
        )
        assert r.status_code == 201, r.text
        ticket = r.json()
        r = await http.post(
            f"/v1/tickets/{ticket['id']}/messages", json={"body": "On its way, Ana."}, headers=STAFF
        )
        assert r.status_code == 201, r.text
        r = await http.post(
            "/v1/reviews",
            json={
                "product_id": "prod_runner",
                "customer_id": customer_id,
                "author_name": "Ana L.",
                "rating": 5,
                "title": "Great shoes",
                "body": "I run in Porto every morning in them.",
            },
        )
        assert r.status_code == 201, r.text
        review = r.json()
        r = await http.post(f"/v1/reviews/{review['id']}/publish", headers=STAFF)
        assert r.status_code == 200, r.text
    await mailpit.wait_to(email, count=2)  # the welcome and the reply
    return {
        "customer_id": customer_id,
        "email": email,
        "message": message,
        "ticket": ticket,
        "review": review,
    }


def request(customer_id: str, request_id: str | None = None) -> dict:
    return envelope(
        "personal_data.requested",
        {
            "request_id": request_id or f"pdr_{uuid.uuid4().hex}",
            "customer_id": customer_id,
            "requested_at": now(),
        },
        source="/crm/customers",
    )


async def test_an_export_holds_the_contact_consent_mail_tickets_and_reviews(
    engagement, people, mailpit, broker
):
    c = await known_customer(engagement, people, mailpit)
    asked = request(c["customer_id"])
    request_id = asked["data"]["request_id"]
    await broker.publish(asked)
    [answer] = await broker.wait_for(
        "personal_data.collected", lambda e: e["data"]["request_id"] == request_id
    )
    event = answer["body"]
    assert answer["message_id"] == event["id"] and event["source"] == "/crm/engagement"
    assert event["subject"] == c["customer_id"]
    data = event["data"]
    assert data["service"] == "engagement" and data["customer_id"] == c["customer_id"]
    got = data["data"]
    assert set(got) == KINDS
    assert got["contact"]["email"] == c["email"] and got["contact"]["first_name"] == "Ana"
    assert got["contact"]["marketing_consent"] is True
    assert [(s["topic"], s["channel"], s["granted"]) for s in got["consent"]][-1] == (
        "newsletter",
        "email",
        True,
    )
    subjects = {m["subject"] for m in got["messages"]}
    assert (
        c["message"]["subject"] in subjects and f"Re: Where is my parcel? [{c['ticket']['id']}]" in subjects
    )
    assert all(m["email"] == c["email"] for m in got["messages"])
    assert all(m["created_at"].endswith("Z") for m in got["messages"])
    [ticket] = got["tickets"]
    assert ticket["id"] == c["ticket"]["id"] and ticket["subject"] == "Where is my parcel?"
    assert [(m["direction"], m["body"]) for m in ticket["messages"]] == [
        ("inbound", "It is late, Ana"),
        ("outbound", "On its way, Ana."),
    ]
    [review] = got["reviews"]
    assert review["title"] == "Great shoes" and review["rating"] == 5 and review["status"] == "published"
    assert got["survey_answers"] == []
    assert "token" not in str(got) and "unsubscribe" not in str(got)

    # The same request again (a new delivery of it, and the same envelope once more): the same
    # answer's id, never a different event.
    await broker.publish(request(c["customer_id"], request_id))
    await broker.publish(asked)
    found = await broker.wait_for(
        "personal_data.collected", lambda e: e["data"]["request_id"] == request_id, count=2
    )
    assert {m["body"]["id"] for m in found} == {event["id"]}


async def test_a_customer_never_heard_of_still_gets_an_answer(engagement, broker):
    asked = request(f"cus_{uuid.uuid4().hex[:12]}")
    await broker.publish(asked)
    [answer] = await broker.wait_for(
        "personal_data.collected", lambda e: e["data"]["request_id"] == asked["data"]["request_id"]
    )
    got = answer["body"]["data"]["data"]
    assert got["contact"] is None and all(got[k] == [] for k in KINDS - {"contact"})


async def test_erasure_anonymises_mail_tickets_and_reviews_and_is_confirmed_once(
    engagement, people, mailpit, broker
):
    c = await known_customer(engagement, people, mailpit)
    customer_id, ticket_id, review_id = c["customer_id"], c["ticket"]["id"], c["review"]["id"]
    deleted = envelope("customer.deleted", {"id": customer_id, "version": 9}, source="/crm/customers")
    await broker.publish(deleted)
    [confirmation] = await broker.wait_for(
        "personal_data.erased", lambda e: e["data"]["customer_id"] == customer_id
    )
    event = confirmation["body"]
    assert event["data"]["service"] == "engagement"
    assert event["data"]["erased"] == {
        "messages": 2,
        "tickets": 1,
        "ticket_messages": 2,
        "reviews": 1,
        "consent_statements": event["data"]["erased"]["consent_statements"],
        "survey_answers": 0,
        "preference_changes": 0,
        "review_requests": 0,
        "contact": 1,
    }
    assert event["data"]["erased"]["consent_statements"] >= 1

    async with engagement.client() as http:
        assert (await http.get(f"/v1/customers/{customer_id}/contact")).status_code == 404
        msg = (await http.get(f"/v1/messages/{c['message']['id']}")).json()
        assert msg["email"] == "" and msg["subject"] == "" and msg["status"] == "sent"  # the count stays
        ticket = (await http.get(f"/v1/tickets/{ticket_id}")).json()
        assert ticket["erased"] and ticket["subject"] == "(erased)" and ticket["email"] is None
        assert [m["body"] for m in ticket["messages"]] == ["(erased)", "(erased)"]
        review = (await http.get(f"/v1/reviews/{review_id}")).json()
        assert review["erased"] and review["status"] == "rejected" and review["rating"] == 5
        assert review["title"] == "" and review["body"] == "" and review["author_name"] is None
    # Storefronts stop showing the review; a helpdesk hears the ticket is erased.
    await broker.wait_for("review.withdrawn", lambda e: e["data"]["id"] == review_id)
    await broker.wait_for("ticket.updated", lambda e: e["data"]["id"] == ticket_id and e["data"]["erased"])

    # customer.deleted again (the same envelope, and a new one): no different confirmation.
    await broker.publish(deleted)
    await broker.publish(
        envelope("customer.deleted", {"id": customer_id, "version": 9}, source="/crm/customers")
    )
    after = request(customer_id)
    await broker.publish(after)
    [answer] = await broker.wait_for(
        "personal_data.collected", lambda e: e["data"]["request_id"] == after["data"]["request_id"]
    )
    got = answer["body"]["data"]["data"]
    assert got["contact"] is None and all(got[k] == [] for k in KINDS - {"contact"})
    assert {
        m["body"]["id"]
        for m in broker.events("personal_data.erased", lambda e: e["data"]["customer_id"] == customer_id)
    } == {event["id"]}
