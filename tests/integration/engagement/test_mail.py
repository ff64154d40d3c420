"""Issue 18: the engagement service as a real process against RabbitMQ, FerretDB and Mailpit
(a real SMTP server); delivered mail is read through Mailpit's HTTP API."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import httpx

from harness import Broker, envelope, eventually, order_placed


async def known(http: httpx.AsyncClient, customer_id: str, consent: bool | None = None) -> dict:
    async def check():
        r = await http.get(f"/v1/customers/{customer_id}/contact")
        if r.status_code != 200:
            return None
        body = r.json()
        return body if consent is None or body["marketing_consent"] == consent else None

    return await eventually(check, timeout=60)


async def template(http: httpx.AsyncClient, kind: str = "transactional", **changes) -> dict:
    body = {
        "name": f"T {uuid.uuid4().hex[:6]}",
        "kind": kind,
        "subject": "Hello {{ customer.first_name }}",
        "html": "<p>Hi {{ customer.first_name }}</p>{% if unsubscribe_url %}<a href='{{ unsubscribe_url }}'>x</a>{% endif %}",
        "text": "Hi {{ customer.first_name }}",
        **changes,
    }
    r = await http.post("/v1/templates", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def final(http: httpx.AsyncClient, message_id: str) -> dict:
    async def check():
        body = (await http.get(f"/v1/messages/{message_id}")).json()
        return body if body["status"] != "queued" else None

    return await eventually(check, timeout=60)


async def test_templates_refuse_unknown_variables_render_sandboxed_and_escape_html(engagement, people):
    async with engagement.client() as http:
        for part, source, word in [
            ("subject", "Hi {{ customer.nickname }}", "nickname"),
            ("html", "{% if false %}{{ coupon_code }}{% endif %}", "coupon_code"),
            ("text", "{{ customer.first_name", "TemplateSyntaxError"),
            ("html", "{{ customer.__class__.__mro__ }}", "unsafe"),
        ]:
            before = (await http.get("/v1/templates", params={"limit": 200})).json()["items"]
            r = await http.post(
                "/v1/templates",
                json={
                    "name": "bad",
                    "kind": "marketing",
                    "subject": "s",
                    "html": "",
                    "text": "",
                    part: source,
                },
            )
            assert r.status_code == 422, (source, r.text)
            problem = r.json()
            assert problem["errors"][0]["field"] == part and word.lower() in r.text.lower(), problem
            assert (await http.get("/v1/templates", params={"limit": 200})).json()["items"] == before

        ids = {t["id"] for t in (await http.get("/v1/templates", params={"limit": 200})).json()["items"]}
        assert {
            "tpl_welcome",
            "tpl_thank_you",
            "tpl_recommendations",
            "tpl_special_offer",
            "tpl_re_engagement",
        } <= ids

        customer_id, email = await people.customer(first_name="<b>Ana</b> & Co")
        await known(http, customer_id)
        t = await template(http)
        r = await http.post(f"/v1/templates/{t['id']}/preview", json={"customer_id": customer_id})
        assert r.status_code == 200
        preview = r.json()
        assert preview["html"].startswith("<p>Hi &lt;b&gt;Ana&lt;/b&gt; &amp; Co</p>")
        assert preview["text"] == "Hi <b>Ana</b> & Co" and preview["subject"] == "Hello <b>Ana</b> & Co"
        sample = (await http.post(f"/v1/templates/{t['id']}/preview", json={})).json()
        assert sample["text"] == "Hi Ana"

        edited = await http.put(
            f"/v1/templates/{t['id']}", json={"name": "x", "kind": "transactional", "subject": "{{ nope }}"}
        )
        assert edited.status_code == 422
        assert (await http.get(f"/v1/templates/{t['id']}")).json()["subject"] == t["subject"]
        assert (await http.delete(f"/v1/templates/{t['id']}")).status_code == 204
        assert (await http.get(f"/v1/templates/{t['id']}")).status_code == 404


async def test_a_message_to_a_customer_is_delivered_over_smtp_once(engagement, people, mailpit):
    async with engagement.client() as http:
        customer_id, email = await people.customer()
        await known(http, customer_id)
        t = await template(http, subject="Your receipt, {{ customer.first_name }}")
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        r = await http.post(
            f"/v1/customers/{customer_id}/messages", json={"template_id": t["id"]}, headers=headers
        )
        assert r.status_code == 202, r.text
        again = await http.post(
            f"/v1/customers/{customer_id}/messages", json={"template_id": t["id"]}, headers=headers
        )
        assert again.json()["id"] == r.json()["id"]
        done = await final(http, r.json()["id"])
        assert done["status"] == "sent" and done["sent_at"] and done["reason"] is None

        [mail] = await mailpit.wait_to(email)
        assert mail["Subject"] == "Your receipt, Ana"
        full = await mailpit.message(mail["ID"])
        assert "Hi Ana" in full["Text"] and "<p>Hi Ana</p>" in full["HTML"]
        assert "List-Unsubscribe" not in await mailpit.headers(mail["ID"])  # transactional
        await asyncio.sleep(1)
        assert len(await mailpit.to(email)) == 1

        listed = (await http.get(f"/v1/customers/{customer_id}/messages")).json()["items"]
        assert [m["id"] for m in listed] == [done["id"]]
        for bad, status in [({"template_id": "tpl_missing"}, 404), ({}, 422)]:
            assert (await http.post(f"/v1/customers/{customer_id}/messages", json=bad)).status_code == status
        assert (
            await http.post("/v1/customers/cus_unknown/messages", json={"template_id": t["id"]})
        ).status_code == 404


async def test_marketing_needs_consent_at_send_time_and_one_click_unsubscribe_stops_it(
    engagement, people, mailpit, broker: Broker
):
    async with engagement.client() as http:
        t = await template(http, kind="marketing")
        # No consent: skipped, nothing delivered.
        quiet_id, quiet_email = await people.customer()
        await known(http, quiet_id)
        r = await http.post(f"/v1/customers/{quiet_id}/messages", json={"template_id": t["id"]})
        skipped = await final(http, r.json()["id"])
        assert skipped["status"] == "skipped" and "consent" in skipped["reason"]

        customer_id, email = await people.customer(consent=True)
        await known(http, customer_id, consent=True)
        r = await http.post(f"/v1/customers/{customer_id}/messages", json={"template_id": t["id"]})
        assert (await final(http, r.json()["id"]))["status"] == "sent"
        [mail] = await mailpit.wait_to(email)
        headers = await mailpit.headers(mail["ID"])
        assert headers["List-Unsubscribe-Post"] == ["List-Unsubscribe=One-Click"]
        link = headers["List-Unsubscribe"][0].strip("<>")
        assert link in (await mailpit.message(mail["ID"]))["HTML"]

        path = "/" + link.split("/", 3)[3]
        async with engagement.client(token=None) as public:
            page = await public.get(path)  # a GET only asks
            assert page.status_code == 200 and email in page.text
            assert (await known(http, customer_id))["marketing_consent"] is True
            forged = await public.post(path[:-3] + "AAA", content="List-Unsubscribe=One-Click")
            assert forged.status_code == 404
            done = await public.post(
                path,
                content="List-Unsubscribe=One-Click",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert done.status_code == 200 and "Unsubscribed" in done.text
            assert (await public.post(path, content="List-Unsubscribe=One-Click")).status_code == 200

        [event] = await broker.wait_for("newsletter.unsubscribed", lambda b: b["data"]["email"] == email)
        assert event["body"]["source"] == "/crm/engagement" and event["persistent"]
        await asyncio.sleep(1)
        assert len(broker.events("newsletter.unsubscribed", lambda b: b["data"]["email"] == email)) == 1
        assert (await known(http, customer_id))["marketing_consent"] is False

        r = await http.post(f"/v1/customers/{customer_id}/messages", json={"template_id": t["id"]})
        assert (await final(http, r.json()["id"]))["status"] == "skipped"
        # Consent given again (newer statement) counts again; an older one does not.
        old = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        await broker.publish(envelope("newsletter.subscribed", {"email": email, "at": old}))
        await asyncio.sleep(1)
        assert (await known(http, customer_id))["marketing_consent"] is False
        await broker.publish(
            envelope("newsletter.subscribed", {"email": email, "at": datetime.now(UTC).isoformat()})
        )
        await known(http, customer_id, consent=True)
        assert len(await mailpit.to(email)) == 1


async def test_marketing_frequency_limit_is_exact_when_many_are_sent_at_once(engagement, mailpit, people):
    async with engagement.client() as http:
        t = await template(http, kind="marketing")
        customer_id, email = await people.customer(consent=True)
        await known(http, customer_id, consent=True)
        responses = await asyncio.gather(
            *(
                http.post(f"/v1/customers/{customer_id}/messages", json={"template_id": t["id"]})
                for _ in range(8)
            )
        )
        results = [await final(http, r.json()["id"]) for r in responses]
        statuses = sorted(m["status"] for m in results)
        # The default limit: 3 marketing mails per customer per rolling 7 days.
        assert statuses == ["sent"] * 3 + ["skipped"] * 5, statuses
        assert all("frequency" in m["reason"] for m in results if m["status"] == "skipped")
        await asyncio.sleep(1)
        assert len(await mailpit.to(email)) == 3
        assert (await known(http, customer_id))["marketing_sent_in_window"] == 3

        # Transactional mail is not limited.
        tx = await template(http)
        r = await http.post(f"/v1/customers/{customer_id}/messages", json={"template_id": tx["id"]})
        assert (await final(http, r.json()["id"]))["status"] == "sent"


async def test_welcome_once_per_account_and_thank_you_once_per_order(
    engagement, people, mailpit, broker: Broker, helpers
):
    customer_state = helpers["customer_state"]
    async with engagement.client() as http:
        customer_id, email = await people.customer(has_account=True, first_name="Rita")
        await known(http, customer_id)
        # The same account announced again (a redelivery under a new id, then registered).
        await broker.publish(
            envelope("customer.created", customer_state(customer_id, email, has_account=True))
        )
        await broker.publish(
            envelope("customer.registered", customer_state(customer_id, email, version=2, has_account=True))
        )
        [welcome] = await mailpit.wait_to(email)
        assert welcome["Subject"].startswith("Welcome to Shop, Rita")

        guest_id, guest_email = await people.customer()  # a guest: no welcome
        await known(http, guest_id)

        order = order_placed(guest_email)
        await broker.publish(envelope("order.placed", order))
        await broker.publish(envelope("order.placed", order))  # the same order again
        [thanks] = await mailpit.wait_to(guest_email)
        assert thanks["Subject"] == f"Thank you for your order {order['order_id']}"
        body = await mailpit.message(thanks["ID"])
        assert "129.99 EUR" in body["Text"] and "2 × Runner (49.99 EUR)" in body["HTML"]

        # Switched off: no thank-you for the next order.
        r = await http.put("/v1/automations/thank_you", json={"enabled": False})
        assert r.status_code == 200 and r.json()["enabled"] is False
        await broker.publish(envelope("order.placed", order_placed(guest_email)))
        await asyncio.sleep(2)
        assert len(await mailpit.to(email)) == 1 and len(await mailpit.to(guest_email)) == 1
        assert (await http.put("/v1/automations/thank_you", json={"enabled": True})).status_code == 200
        assert (await http.put("/v1/automations/nope", json={"enabled": True})).status_code == 404
        wrong = await http.put(
            "/v1/automations/welcome", json={"enabled": True, "template_id": "tpl_thank_you"}
        )
        assert wrong.status_code == 422
        listed = (await http.get("/v1/automations")).json()["items"]
        assert {a["name"]: (a["template_id"], a["enabled"]) for a in listed} == {
            "welcome": ("tpl_welcome", True),
            "thank_you": ("tpl_thank_you", True),
            "review_request": ("tpl_review_request", False),  # off until chosen
            "re_engagement": ("tpl_re_engagement", False),
        }


async def test_campaign_to_a_segment_now_and_scheduled_reaches_consented_members_once(
    engagement, people, mailpit, broker: Broker
):
    segment_id = f"seg_{uuid.uuid4().hex[:8]}"

    def membership(customer_id: str, email: str) -> dict:
        return {"segment_id": segment_id, "segment_name": "VIP", "customer_id": customer_id, "email": email}

    async with engagement.client() as http:
        yes = [await people.customer(consent=True) for _ in range(3)]
        no = await people.customer()
        for customer_id, _ in [*yes, no]:
            await known(http, customer_id)
        for c in [*yes, no]:
            await broker.publish(envelope("segment.member.joined", membership(*c)))
        await broker.publish(envelope("segment.member.left", membership(*yes[2])))  # left again
        for customer_id, _ in yes:
            await known(http, customer_id, consent=True)

        async def members():
            return (await http.get(f"/v1/segment-audiences/{segment_id}")).json()["customers"] == 3

        await eventually(members, timeout=60)

        t = await template(http, kind="marketing", subject="VIP offer for {{ customer.first_name }}")
        at = datetime.now(UTC) + timedelta(seconds=4)
        r = await http.post(
            "/v1/campaigns",
            json={
                "name": "VIP",
                "template_id": t["id"],
                "segment_id": segment_id,
                "scheduled_at": at.isoformat(),
            },
        )
        assert r.status_code == 201, r.text
        campaign = r.json()
        assert campaign["status"] == "scheduled" and campaign["counts"] == {}

        async def audience():
            c = (await http.get(f"/v1/campaigns/{campaign['id']}")).json()
            return c["audience"] == 3 and c

        await eventually(audience)
        assert await mailpit.to(yes[0][1]) == []

        async def completed():
            c = (await http.get(f"/v1/campaigns/{campaign['id']}")).json()
            return c if c["status"] == "completed" else None

        done = await eventually(completed, timeout=30)
        assert done["counts"] == {"sent": 2, "skipped": 1} and done["audience"] == 3
        [announced] = await broker.wait_for(
            "campaign.completed", lambda b: b["data"]["campaign_id"] == campaign["id"], timeout=30
        )
        assert announced["body"]["data"]["counts"] == {"sent": 2, "skipped": 1}
        sent = await broker.wait_for(
            "message.sent", lambda b: b["data"]["campaign_id"] == campaign["id"], count=2, timeout=30
        )
        assert {e["body"]["data"]["customer_id"] for e in sent} == {c for c, _ in yes[:2]}
        assert all(e["body"]["data"]["kind"] == "marketing" for e in sent)
        assert datetime.fromisoformat(done["launched_at"]) >= at - timedelta(milliseconds=1)
        for _, email in yes[:2]:
            [mail] = await mailpit.wait_to(email)
            assert mail["Subject"] == "VIP offer for Ana"
        assert await mailpit.to(yes[2][1]) == [] and await mailpit.to(no[1]) == []

        # A selection, now; unknown customers are counted, not mailed.
        r = await http.post(
            "/v1/campaigns",
            json={"name": "Pick", "template_id": t["id"], "customer_ids": [yes[2][0], "cus_nobody"]},
        )
        done = await eventually(lambda: completed_of(http, r.json()["id"]), timeout=30)
        assert done["counts"] == {"sent": 1} and done["not_found"] == 1
        await mailpit.wait_to(yes[2][1])

        for bad in [
            {"name": "x", "template_id": t["id"]},
            {"name": "x", "template_id": t["id"], "segment_id": segment_id, "customer_ids": ["a"]},
            {"name": "x", "template_id": "tpl_welcome", "segment_id": segment_id},
            {
                "name": "x",
                "template_id": t["id"],
                "segment_id": segment_id,
                "scheduled_at": "2026-01-01T00:00:00",
            },
        ]:
            assert (await http.post("/v1/campaigns", json=bad)).status_code == 422, bad


async def completed_of(http: httpx.AsyncClient, campaign_id: str):
    c = (await http.get(f"/v1/campaigns/{campaign_id}")).json()
    return c if c["status"] == "completed" else None
