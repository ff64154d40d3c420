"""Issue 18: SMTP errors are retried with back-off and then recorded; a crash of the service
mid-campaign never sends anyone a mail twice and loses no queued mail."""

import signal
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from harness import Broker, envelope, eventually, free_port


async def known(http: httpx.AsyncClient, customer_id: str, consent: bool = False) -> None:
    async def check():
        r = await http.get(f"/v1/customers/{customer_id}/contact")
        return r.status_code == 200 and (not consent or r.json()["marketing_consent"])

    await eventually(check, timeout=60)


async def test_smtp_down_is_retried_with_back_off_then_failed_with_the_reason_or_sent_when_back(
    system, mailpit, people, helpers, broker: Broker
):
    down = helpers["service_env"](mailpit, CRM_SMTP_PORT=str(free_port()), CRM_ENGAGEMENT_MAX_ATTEMPTS="3")
    engagement = system.service("engagement", **down)
    async with engagement.client() as http:
        customer_id, email = await people.customer()
        await known(http, customer_id)
        r = await http.post(
            "/v1/templates",
            json={
                "name": "tx",
                "kind": "transactional",
                "subject": "Receipt",
                "text": "Thanks",
                "html": "<p>Thanks</p>",
            },
        )
        tx = r.json()["id"]
        first = (await http.post(f"/v1/customers/{customer_id}/messages", json={"template_id": tx})).json()

        async def failed():
            m = (await http.get(f"/v1/messages/{first['id']}")).json()
            return m if m["status"] == "failed" else None

        m = await eventually(failed, timeout=30)
        assert m["attempts"] == 3 and m["reason"].startswith("gave up after 3 tries") and m["sent_at"] is None
        [gave_up] = await broker.wait_for("message.failed", lambda b: b["data"]["message_id"] == first["id"])
        assert gave_up["body"]["data"]["reason"].startswith("gave up after 3 tries")

    # A mail queued while the server is away goes out once it is back, even across a restart.
    engagement.stop()
    engagement = system.service("engagement", **{**down, "CRM_ENGAGEMENT_MAX_ATTEMPTS": "50"})
    async with engagement.client() as http:
        second = (await http.post(f"/v1/customers/{customer_id}/messages", json={"template_id": tx})).json()

        async def retried():
            m = (await http.get(f"/v1/messages/{second['id']}")).json()
            return m["attempts"] >= 2 and m["status"] == "queued" and m["reason"] and m

        m = await eventually(retried, timeout=30)
    engagement.stop()
    engagement = system.service("engagement", **helpers["service_env"](mailpit))
    async with engagement.client() as http:

        async def sent():
            m = (await http.get(f"/v1/messages/{second['id']}")).json()
            return m if m["status"] == "sent" else None

        m = await eventually(sent, timeout=30)
        assert m["attempts"] >= 3
    assert len(await mailpit.wait_to(email)) == 1
    await broker.wait_for("message.sent", lambda b: b["data"]["message_id"] == second["id"])
    assert broker.events("message.failed", lambda b: b["data"]["message_id"] == second["id"]) == []


async def test_killed_mid_campaign_nobody_gets_a_mail_twice_and_nothing_queued_is_lost(
    system, mailpit, people, helpers, broker: Broker
):
    env = helpers["service_env"](
        mailpit,
        CRM_ENGAGEMENT_SEND_CONCURRENCY="1",
        CRM_ENGAGEMENT_SEND_PAUSE_SECONDS="0.1",  # 40 mails take 4 s or more: time to kill it midway
        CRM_ENGAGEMENT_SEND_BATCH="5",
        CRM_ENGAGEMENT_CLAIM_TIMEOUT_SECONDS="3",
    )
    if "engagement" in system.processes:  # started by another test of this module, otherwise
        system.processes["engagement"].stop()
    engagement = system.service("engagement", **env)
    segment_id = f"seg_{uuid.uuid4().hex[:8]}"
    subject = f"News {segment_id}"
    async with engagement.client() as http:
        people_ = [await people.customer(consent=True) for _ in range(40)]
        for customer_id, email in people_:
            data = {
                "segment_id": segment_id,
                "segment_name": "All",
                "customer_id": customer_id,
                "email": email,
            }
            await broker.publish(envelope("segment.member.joined", data))
        for customer_id, _ in people_:
            await known(http, customer_id, consent=True)

        async def members():
            r = await http.get(f"/v1/segment-audiences/{segment_id}")
            return r.json()["customers"] == 40

        await eventually(members, timeout=60)
        t = (
            await http.post(
                "/v1/templates",
                json={"name": "m", "kind": "marketing", "subject": subject, "text": "{{ unsubscribe_url }}"},
            )
        ).json()

        at = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
        campaign = (
            await http.post(
                "/v1/campaigns",
                json={"name": "All", "template_id": t["id"], "segment_id": segment_id, "scheduled_at": at},
            )
        ).json()

        async def audience():
            c = (await http.get(f"/v1/campaigns/{campaign['id']}")).json()
            return c["status"] == "scheduled" and c["audience"] == 40

        await eventually(audience)

    async def some_sent():
        return await mailpit.count(f'subject:"{subject}"') >= 3

    await eventually(some_sent, timeout=30, interval=0.02)
    engagement.stop(signal.SIGKILL)
    assert await mailpit.count(f'subject:"{subject}"') < 40  # killed mid-campaign
    engagement = system.service("engagement", **env)
    async with engagement.client() as http:

        async def completed():
            c = (await http.get(f"/v1/campaigns/{campaign['id']}")).json()
            return c if c["status"] == "completed" else None

        done = await eventually(completed, timeout=60)
        messages = {}
        for customer_id, _ in people_:
            [m] = (await http.get(f"/v1/customers/{customer_id}/messages")).json()["items"]
            messages[customer_id] = m
    received = {c: len(await mailpit.to(e)) for c, e in people_}
    assert all(n <= 1 for n in received.values()), received  # never twice
    interrupted = [c for c, m in messages.items() if m["status"] == "failed"]
    assert all("interrupted" in messages[c]["reason"] for c in interrupted)
    assert len(interrupted) <= 1  # at most the one mail in flight at the kill (concurrency 1)
    for c, m in messages.items():
        if m["status"] == "sent":
            assert received[c] == 1
    assert sum(1 for m in messages.values() if m["status"] == "sent") == done["counts"]["sent"] >= 39
    assert "skipped" not in done["counts"]
