"""Issue 18: the review request some days after an order (a periodic job) and re-engagement
when a customer joins a chosen segment, in the engagement service as a process against
RabbitMQ, FerretDB and Mailpit: each switchable, each once per cause even when events are
redelivered."""

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from harness import envelope, eventually, order_placed

DELAY_DAYS = 3 / 86400  # three seconds


@pytest.fixture
def svc(system, mailpit, helpers):
    return system.service(
        "engagement", **helpers["service_env"](mailpit, CRM_ENGAGEMENT_AUTOMATION_EVERY_SECONDS="0.3")
    )


async def known(http, customer_id, consent=None):
    async def seen():
        r = await http.get(f"/v1/customers/{customer_id}/contact")
        return r.status_code == 200 and (consent is None or r.json()["marketing_consent"] is consent)

    await eventually(seen)


def subjects(mails, word):
    return [m["Subject"] for m in mails if word in m["Subject"]]


async def test_a_review_request_goes_some_days_after_the_order_once_and_only_when_on(
    svc, people, broker, mailpit
):
    customer_id, email = await people.customer()
    async with svc.client() as http:
        await known(http, customer_id)
        autos = {a["name"]: a for a in (await http.get("/v1/automations")).json()["items"]}
        assert autos["review_request"]["enabled"] is False and autos["review_request"]["delay_days"] == 7
        assert autos["re_engagement"]["enabled"] is False

        def order(order_id):
            data = order_placed(email, order_id=order_id, placed_at=datetime.now(UTC).isoformat())
            data["customer"] = {**data["customer"], "customer_id": customer_id}
            return envelope("order.placed", data)

        # Off: an order placed now never gets a request.
        await broker.publish(order(f"ord_off_{uuid.uuid4().hex[:6]}"))
        await mailpit.wait_to(email)  # its thank-you: the order was handled while off
        r = await http.put("/v1/automations/review_request", json={"enabled": True, "delay_days": 0})
        assert r.status_code == 422, r.text
        r = await http.put("/v1/automations/review_request", json={"enabled": True, "delay_days": DELAY_DAYS})
        assert r.status_code == 200 and r.json()["delay_days"] == DELAY_DAYS, r.text

        order_id = f"ord_{uuid.uuid4().hex[:8]}"
        placed = order(order_id)
        await broker.publish(placed)
        await broker.publish(placed)  # redelivered
        await broker.publish({**order(order_id), "id": str(uuid.uuid4())})  # published twice
        await mailpit.wait_to(email, count=2)  # the thank-you mail comes at once
        await asyncio.sleep(1)
        assert subjects(await mailpit.to(email), "How do you like") == []  # not due yet

        async def requested():
            return subjects(await mailpit.to(email), "How do you like")

        assert await eventually(requested, timeout=30) == [f"How do you like your order {order_id}?"]
        await asyncio.sleep(2)
        assert await requested() == [f"How do you like your order {order_id}?"]  # once per order


async def test_re_engagement_when_joining_the_chosen_segment_once_per_join(svc, people, broker, mailpit):
    chosen, other = f"seg_{uuid.uuid4().hex[:8]}", f"seg_{uuid.uuid4().hex[:8]}"
    customer_id, email = await people.customer(consent=True)
    async with svc.client() as http:
        await known(http, customer_id, consent=True)
        r = await http.put("/v1/automations/re_engagement", json={"enabled": True})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "segment_id", r.text
        r = await http.put("/v1/automations/re_engagement", json={"enabled": True, "segment_id": chosen})
        assert r.status_code == 200 and r.json()["segment_id"] == chosen, r.text

        def member(type_, segment_id):
            data = {
                "segment_id": segment_id,
                "segment_name": "Lapsed",
                "customer_id": customer_id,
                "email": email,
            }
            return envelope(type_, data, source="/crm/segments")

        await broker.publish(member("segment.member.joined", other))
        joined = member("segment.member.joined", chosen)
        await broker.publish(joined)
        await broker.publish(joined)  # redelivered
        [mail] = await mailpit.wait_to(email)
        assert mail["Subject"] == "We miss you, Ana"
        await asyncio.sleep(1.5)
        assert len(await mailpit.to(email)) == 1

        # Left and joined again: a new join, a new mail.
        await broker.publish(member("segment.member.left", chosen))
        await broker.publish(member("segment.member.joined", chosen))
        await mailpit.wait_to(email, count=2)

        # Switched off: a join sends nothing.
        r = await http.put("/v1/automations/re_engagement", json={"enabled": False})
        assert r.status_code == 200 and r.json()["segment_id"] == chosen
        await broker.publish(member("segment.member.joined", chosen))
        await asyncio.sleep(1.5)
        assert len(await mailpit.to(email)) == 2
