"""Issue 18: the preference centre of the engagement service, as a process against RabbitMQ,
FerretDB and Mailpit: consent per topic and channel, set by the customer on a page reached by
a signed, expiring link (no JavaScript, POST only), or through the API; changes go out as
newsletter.* (the newsletter by e-mail) and preferences.updated; marketing mail honours the
topic's consent when it is sent."""

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest

from crm_engagement.domain.preferences import token
from harness import eventually

SECRET = "test-preference-secret-" + "y" * 32


@pytest.fixture
def svc(system, mailpit, helpers):
    return system.service("engagement", **helpers["service_env"](mailpit, CRM_ENGAGEMENT_LINK_SECRET=SECRET))


def granted(body: dict) -> dict[str, bool]:
    return {f"{p['topic']}.{p['channel']}": p["granted"] for p in body["preferences"]}


async def known(http, customer_id, consent: bool):
    async def seen():
        r = await http.get(f"/v1/customers/{customer_id}/contact")
        return r.status_code == 200 and r.json()["marketing_consent"] is consent

    await eventually(seen)


async def marketing_template(http, topic: str | None) -> str:
    body = {
        "name": f"t {topic}",
        "kind": "marketing",
        "subject": f"News on {topic}",
        "text": "{{ unsubscribe_url }}",
    }
    if topic:
        body["topic"] = topic
    r = await http.post("/v1/templates", json=body)
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_the_customer_sets_topics_and_channels_on_the_page_and_mail_follows_them(
    svc, people, broker, mailpit
):
    customer_id, email = await people.customer(consent=True)
    async with svc.client() as http:
        await known(http, customer_id, True)
        r = await http.post(f"/v1/customers/{customer_id}/preference-link")
        assert r.status_code == 200, r.text
        path = "/" + r.json()["url"].split("/", 3)[3]
        assert datetime.fromisoformat(r.json()["expires_at"]) > datetime.now(UTC) + timedelta(days=29)

        async with svc.client(token=None) as web:
            page = await web.get(path)  # a GET shows, never changes
            assert page.status_code == 200 and email in page.text and "<script" not in page.text
            assert 'name="newsletter.email" checked' in page.text and 'name="offers.email">' in page.text
            assert (await web.get(path[:-3] + "AAA")).status_code == 404
            r = await web.post(path, content="offers.email=on")  # not the page's form
            assert r.status_code == 422
            saved = await web.post(
                path,
                content="form=preferences&offers.email=on&product_news.sms=on",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert saved.status_code == 200 and "Saved" in saved.text
            assert 'name="offers.email" checked' in saved.text and 'name="newsletter.email">' in saved.text

        now = (await http.get(f"/v1/customers/{customer_id}/preferences")).json()
        assert granted(now) == {
            "newsletter.email": False,
            "newsletter.sms": False,
            "offers.email": True,
            "offers.sms": False,
            "product_news.email": False,
            "product_news.sms": True,
        }
        offers = next(p for p in now["preferences"] if p["topic"] == "offers" and p["channel"] == "email")
        assert offers["source"] == "preference-centre" and offers["at"] is not None

        # To the customers service: the newsletter as it already consumes it, the rest in
        # preferences.updated.
        [unsub] = await broker.wait_for("newsletter.unsubscribed", lambda e: e["data"]["email"] == email)
        assert unsub["body"]["source"] == "/crm/engagement" and unsub["body"]["subject"] == customer_id
        [update] = await broker.wait_for(
            "preferences.updated", lambda e: e["data"]["customer_id"] == customer_id
        )
        changed = {f"{p['topic']}.{p['channel']}": p["granted"] for p in update["body"]["data"]["changed"]}
        assert changed == {"newsletter.email": False, "offers.email": True, "product_news.sms": True}
        assert len(update["body"]["data"]["preferences"]) == 6
        await known(http, customer_id, False)

        # Marketing mail honours the topic's consent when sent.
        sent = {}
        for topic in ("offers", "product_news", None):
            tid = await marketing_template(http, topic)
            r = await http.post(f"/v1/customers/{customer_id}/messages", json={"template_id": tid})
            assert r.status_code == 202, r.text
            sent[topic] = r.json()["id"]

        async def settled():
            got = {t: (await http.get(f"/v1/messages/{m}")).json() for t, m in sent.items()}
            return got if all(g["status"] != "queued" for g in got.values()) else None

        got = await eventually(settled)
        assert got["offers"]["status"] == "sent"
        assert got["product_news"]["status"] == "skipped" and "product_news" in got["product_news"]["reason"]
        assert got[None]["status"] == "skipped"  # the newsletter: withdrawn
        assert [m["Subject"] for m in await mailpit.to(email)] == ["News on offers"]

        # Saving the same again records nothing new.
        async with svc.client(token=None) as web:
            await web.post(
                path,
                content="form=preferences&offers.email=on&product_news.sms=on",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        await asyncio.sleep(1)
        assert (
            len(broker.events("preferences.updated", lambda e: e["data"]["customer_id"] == customer_id)) == 1
        )


async def test_the_api_sets_preferences_and_an_expired_link_changes_nothing(svc, people, broker, mailpit):
    customer_id, email = await people.customer()
    async with svc.client() as http:
        await known(http, customer_id, False)
        r = await http.put(
            f"/v1/customers/{customer_id}/preferences",
            json={"preferences": [{"topic": "weather", "channel": "email", "granted": True}]},
        )
        assert r.status_code == 422, r.text
        r = await http.put(
            f"/v1/customers/{customer_id}/preferences",
            json={
                "preferences": [{"topic": "newsletter", "channel": "email", "granted": True}],
                "source": "phone",
            },
        )
        assert r.status_code == 200 and granted(r.json())["newsletter.email"] is True, r.text
        [sub] = await broker.wait_for("newsletter.subscribed", lambda e: e["data"]["email"] == email)
        assert sub["body"]["source"] == "/crm/engagement"
        await known(http, customer_id, True)
        assert (await http.get("/v1/customers/cus_nobody/preferences")).status_code == 404

        old = token(SECRET, customer_id, datetime.now(UTC) - timedelta(seconds=1))
        async with svc.client(token=None) as web:
            assert (await web.get(f"/preferences/{old}")).status_code == 403
            r = await web.post(f"/preferences/{old}", content="form=preferences")
            assert r.status_code == 403
        await known(http, customer_id, True)

        # Marketing mail carries the customer's link to the page.
        r = await http.post(
            f"/v1/customers/{customer_id}/messages", json={"template_id": "tpl_special_offer"}
        )
        assert r.status_code == 202, r.text
        [mail] = await mailpit.wait_to(email)
        text = (await mailpit.message(mail["ID"]))["Text"]
        link = re.search(r"Your preferences: https?://[^/\s]+(/preferences/\S+)", text).group(1)
        async with svc.client(token=None) as web:
            page = await web.get(link)
        assert page.status_code == 200 and 'name="newsletter.email" checked' in page.text
