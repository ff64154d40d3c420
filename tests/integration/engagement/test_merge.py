"""Issue 15, merging customers: on customer.merged the engagement service moves the merged
customer's tickets (each announced with ticket.updated, one version up), review authorship,
mails and preference choices to the kept customer, and drops the merged contact, which gets no
more mail; a redelivered merge changes and announces nothing more."""

import asyncio

from harness import envelope, eventually

STAFF = {"X-CRM-Operator": "maria@shop.example"}


def merged(kept: str, gone: str) -> dict:
    return envelope("customer.merged", {"id": kept, "merged_id": gone, "version": 4}, source="/crm/customers")


async def _known(http, *customer_ids: str) -> None:
    async def seen():
        for c in customer_ids:
            if (await http.get(f"/v1/customers/{c}/contact")).status_code != 200:
                return False
        return True

    await eventually(seen)


async def _ticket(http, customer_id: str, subject: str) -> dict:
    r = await http.post(
        "/v1/tickets/inbound", json={"customer_id": customer_id, "subject": subject, "body": "Hi"}
    )
    assert r.status_code == 201, r.text
    return r.json()


async def _ticket_ids(http, customer_id: str) -> list[str]:
    r = await http.get("/v1/tickets", params={"customer_id": customer_id})
    assert r.status_code == 200, r.text
    return sorted(t["id"] for t in r.json()["items"])


async def test_the_merged_customers_records_become_the_kept_ones(engagement, people, mailpit, broker):
    kept, _ = await people.customer()
    gone, gone_email = await people.customer()
    async with engagement.client() as http:
        await _known(http, kept, gone)
        own = await _ticket(http, kept, "My own question")
        theirs = await _ticket(http, gone, "Where is my parcel?")
        r = await http.post(
            "/v1/reviews",
            json={
                "product_id": "prod_runner",
                "customer_id": gone,
                "rating": 4,
                "title": "Good",
                "body": "Fits.",
            },
        )
        assert r.status_code == 201, r.text
        review = r.json()
        r = await http.put(
            f"/v1/customers/{gone}/preferences",
            json={"preferences": [{"topic": "offers", "channel": "email", "granted": True}]},
        )
        assert r.status_code == 200, r.text
        r = await http.post(f"/v1/customers/{gone}/messages", json={"template_id": "tpl_welcome"})
        assert r.status_code == 202, r.text
        message = r.json()
        await mailpit.wait_to(gone_email)

        event = merged(kept, gone)
        await broker.publish(event)

        [updated] = await broker.wait_for(
            "ticket.updated", lambda e: e["data"]["id"] == theirs["id"] and e["data"]["customer_id"] == kept
        )
        assert updated["body"]["data"]["version"] == theirs["version"] + 1
        assert updated["body"]["data"]["subject"] == "Where is my parcel?"
        await eventually(lambda: _gone(http, gone))

        assert await _ticket_ids(http, kept) == sorted([own["id"], theirs["id"]])
        assert await _ticket_ids(http, gone) == []
        assert (await http.get(f"/v1/reviews/{review['id']}")).json()["customer_id"] == kept
        mails = (await http.get(f"/v1/customers/{kept}/messages")).json()["items"]
        assert message["id"] in [m["id"] for m in mails]
        prefs = (await http.get(f"/v1/customers/{kept}/preferences")).json()["preferences"]
        assert {(p["topic"], p["channel"]) for p in prefs if p["granted"]} == {("offers", "email")}

        # The merged contact is gone: no mail (marketing or other) can be addressed to it.
        assert (await http.get(f"/v1/customers/{gone}/contact")).status_code == 404
        r = await http.post(f"/v1/customers/{gone}/messages", json={"template_id": "tpl_welcome"})
        assert r.status_code == 404, r.text

        # Redelivered (the same envelope twice at once, then later): nothing moves or is announced again.
        await asyncio.gather(broker.publish(event), broker.publish(event))
        await asyncio.sleep(2)
        ticket = (await http.get(f"/v1/tickets/{theirs['id']}")).json()
        assert ticket["version"] == theirs["version"] + 1 and ticket["customer_id"] == kept
        announced = {
            e["body"]["id"]
            for e in broker.events("ticket.updated", lambda e: e["data"]["id"] == theirs["id"])
        }
        assert announced == {updated["body"]["id"]}
        assert broker.events("ticket.updated", lambda e: e["data"]["id"] == own["id"]) == []
        assert (await http.get(f"/v1/reviews/{review['id']}")).json()["version"] == review["version"] + 1


async def _gone(http, customer_id: str) -> bool:
    return (await http.get(f"/v1/customers/{customer_id}/contact")).status_code == 404


async def test_a_merge_naming_one_customer_twice_is_refused_and_changes_nothing(engagement, people, broker):
    customer, _ = await people.customer()
    async with engagement.client() as http:
        await _known(http, customer)
        await broker.publish(merged(customer, customer))
        await asyncio.sleep(1.5)
        assert (await http.get(f"/v1/customers/{customer}/contact")).status_code == 200
