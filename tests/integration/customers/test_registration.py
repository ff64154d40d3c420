"""Creating customers (issue 15) through the real broker and FerretDB: groups to join and the
referral code given at creation, carried on the customer events for the groups service and
the ledger; registering with a guest's e-mail, verified before the guest's history is handed
over."""

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from harness import Broker, envelope, eventually, order_placed


def unique_email(name: str = "ana") -> str:
    return f"{name}.{uuid.uuid4().hex[:8]}@example.com"


@pytest.fixture
def customers(system):
    return system.service("customers")


async def test_groups_and_referral_code_given_at_creation_are_carried_on_the_events(
    customers, broker: Broker
):
    email = unique_email()
    async with customers.client() as http:
        r = await http.post(
            "/v1/customers",
            json={
                "email": email,
                "group_ids": ["grp_wholesale", "grp_vip", "grp_vip"],
                "referred_by": "REF-1A2B3C",
            },
        )
        assert r.status_code == 201, r.text
        c = r.json()
        assert c["referred_by"] == "REF-1A2B3C" and c["group_ids"] == []  # groups applies them, then tells us
        (created,) = await broker.wait_for("customer.created", lambda b: b["data"]["id"] == c["id"])
        data = created["body"]["data"]
        assert data["join_group_ids"] == ["grp_wholesale", "grp_vip"] and data["referred_by"] == "REF-1A2B3C"

        # Later events keep the referral code; the groups to join were for customer.created only.
        assert (await http.patch(f"/v1/customers/{c['id']}", json={"company": "ACME"})).status_code == 200
        (updated,) = await broker.wait_for("customer.updated", lambda b: b["data"]["id"] == c["id"])
        assert updated["body"]["data"]["referred_by"] == "REF-1A2B3C"
        assert updated["body"]["data"]["join_group_ids"] == []

        plain = (await http.post("/v1/customers", json={"email": unique_email()})).json()
        (event,) = await broker.wait_for("customer.created", lambda b: b["data"]["id"] == plain["id"])
        assert event["body"]["data"]["join_group_ids"] == [] and event["body"]["data"]["referred_by"] is None

        # Bad input changes nothing: 422 naming the field.
        for body, field in (
            ({"group_ids": ["not an id!"]}, "group_ids"),
            ({"group_ids": [f"grp_{i}" for i in range(51)]}, "group_ids"),
            ({"group_ids": "grp_1"}, "group_ids"),
            ({"referred_by": "x" * 101}, "referred_by"),
            ({"referred_by": "bad code"}, "referred_by"),
        ):
            bad_email = unique_email("bad")
            r = await http.post("/v1/customers", json={"email": bad_email, **body})
            assert r.status_code == 422, (body, r.text)
            assert any(e["field"].startswith(field) for e in r.json()["errors"]), r.json()
            assert (await http.get("/v1/customers", params={"q": bad_email})).json()["items"] == []


async def _guest(http, broker: Broker, email: str) -> dict:
    await broker.publish(
        envelope("order.placed", order_placed(email, order_id=f"ord_{uuid.uuid4().hex[:8]}"))
    )

    async def found():
        items = (await http.get("/v1/customers", params={"q": email})).json()["items"]
        return items[0] if items and items[0]["stats"]["number_of_orders"] == 1 else None

    return await eventually(found)


async def test_registering_with_a_guests_email_hands_its_history_over_only_once_verified(
    customers, broker: Broker, mongo, system
):
    email = unique_email("guest")
    async with customers.client() as http:
        guest = await _guest(http, broker, email)
        r = await http.post(
            "/v1/customers",
            json={
                "email": email,
                "password": "a-long-password",
                "first_name": "Beatriz",
                "addresses": [{"type": "billing", "line1": "Rua A 1", "city": "Porto", "country_code": "PT"}],
            },
        )
        assert r.status_code == 202, r.text
        pending = r.json()
        # The storefront learns nothing of the guest before verification.
        assert pending["status"] == "verification_pending" and pending["email"] == email
        assert guest["id"] not in r.text and "Ana" not in r.text and "number_of_orders" not in r.text
        login = {"email": email, "password": "a-long-password"}
        assert (await http.post("/v1/customers/authenticate", json=login)).status_code == 401
        assert (await http.get(f"/v1/customers/{guest['id']}")).json()["has_account"] is False

        (asked,) = await broker.wait_for(
            "customer.verification.requested", lambda b: b["data"]["customer_id"] == guest["id"]
        )
        data = asked["body"]["data"]
        assert data["email"] == email and len(data["token"]) >= 40
        assert abs(
            datetime.fromisoformat(data["expires_at"]) - datetime.fromisoformat(pending["expires_at"])
        ) < timedelta(seconds=1)
        assert datetime.fromisoformat(data["expires_at"]) - datetime.now(UTC) > timedelta(hours=47)
        db = mongo[system.database("customers")]
        stored = [d async for d in db["verifications"].find({"customer_id": guest["id"]})]
        assert len(stored) == 1 and data["token"] not in repr(stored)

        async def outbox_forgotten():  # the published event was the token's only copy
            return await db["verification_outbox"].count_documents({}) == 0

        await eventually(outbox_forgotten)

        wrong = await http.post("/v1/customers/verify", json={"token": "not-the-token"})
        assert wrong.status_code == 404 and wrong.headers["content-type"] == "application/problem+json"
        assert (await http.post("/v1/customers/verify", json={})).status_code == 422

        # Two storefront tabs verify at once: the history is handed over once.
        tries = await asyncio.gather(
            *(http.post("/v1/customers/verify", json={"token": data["token"]}) for _ in range(3))
        )
        assert sorted(t.status_code for t in tries) == [200, 404, 404], [t.text for t in tries]
        account = next(t.json() for t in tries if t.status_code == 200)
        assert account["id"] == guest["id"] and account["has_account"] is True
        assert account["first_name"] == "Beatriz" and account["stats"]["number_of_orders"] == 1
        assert [a["city"] for a in account["addresses"] if a["type"] == "billing"] == ["Porto"]
        assert (await http.post("/v1/customers/authenticate", json=login)).json()["id"] == guest["id"]
        await broker.wait_for("customer.registered", lambda b: b["data"]["id"] == guest["id"])
        await asyncio.sleep(0.5)
        registered = broker.events("customer.registered", lambda b: b["data"]["id"] == guest["id"])
        assert len({m["message_id"] for m in registered}) == 1
        # Registering again: the e-mail is a registered customer's now.
        assert (await http.post("/v1/customers", json={"email": email})).status_code == 409


async def test_an_expired_verification_token_is_refused_and_changes_nothing(
    customers, broker: Broker, mongo, system
):
    email = unique_email("late")
    async with customers.client() as http:
        guest = await _guest(http, broker, email)
        r = await http.post("/v1/customers", json={"email": email, "password": "a-long-password"})
        assert r.status_code == 202, r.text
        (asked,) = await broker.wait_for(
            "customer.verification.requested", lambda b: b["data"]["customer_id"] == guest["id"]
        )
        # Two days pass (the token's expiry moved into the past).
        db = mongo[system.database("customers")]
        await db["verifications"].update_many(
            {"customer_id": guest["id"]}, {"$set": {"expires_at": datetime.now(UTC) - timedelta(minutes=1)}}
        )
        late = await http.post("/v1/customers/verify", json={"token": asked["body"]["data"]["token"]})
        assert late.status_code == 422 and late.json()["type"].endswith("/verification-expired")
        assert (await http.get(f"/v1/customers/{guest['id']}")).json()["has_account"] is False
        # Registering again sends a new token, which works.
        assert (
            await http.post("/v1/customers", json={"email": email, "password": "a-long-password"})
        ).status_code == 202
        again = await broker.wait_for(
            "customer.verification.requested", lambda b: b["data"]["customer_id"] == guest["id"], count=2
        )
        fresh = again[-1]["body"]["data"]["token"]
        assert (await http.post("/v1/customers/verify", json={"token": fresh})).json()["has_account"] is True
