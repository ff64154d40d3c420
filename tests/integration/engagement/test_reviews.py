"""Issue 18: product reviews with moderation in the engagement service, as a process against
RabbitMQ and FerretDB: received pending (storefronts hear nothing), published with
`review.published`, answered (published again), rejected with a reason (`review.withdrawn`),
validated, listed with filters and paging."""

import asyncio
import uuid

import pytest

STAFF = {"X-CRM-Operator": "maria@shop.example"}


@pytest.fixture
def svc(system):
    return system.service("engagement")


def product() -> str:
    return f"prod_{uuid.uuid4().hex[:10]}"


async def submit(http, **changes) -> dict:
    body = {
        "product_id": product(),
        "sku": "SKU-1",
        "email": "ana@example.com",
        "author_name": "Ana L.",
        "rating": 4,
        "title": "Comfortable",
        "body": "Light and comfortable.",
        **changes,
    }
    r = await http.post("/v1/reviews", json=body)
    assert r.status_code == 201, r.text
    return r.json()


async def test_a_review_waits_for_moderation_then_goes_to_the_storefront(svc, broker):
    async with svc.client() as http:
        review = await submit(http, customer_id="cus_1")
        assert review["status"] == "pending" and review["published_at"] is None and review["version"] == 1
        assert (await http.get(f"/v1/reviews/{review['id']}")).json() == review
        await asyncio.sleep(1.5)  # the outbox relay polls every 0.2 s: time enough to see a wrong event
        assert broker.events("review.published", lambda e: e["data"]["id"] == review["id"]) == []

        r = await http.post(f"/v1/reviews/{review['id']}/publish", headers=STAFF)
        assert r.status_code == 200, r.text
        published = r.json()
        assert published["status"] == "published" and published["moderated_by"] == "maria@shop.example"

        [message] = await broker.wait_for("review.published", lambda e: e["data"]["id"] == review["id"])
        event = message["body"]
        assert message["message_id"] == event["id"] and message["persistent"]
        assert event["source"] == "/crm/engagement" and event["subject"] == review["id"]
        data = event["data"]
        assert {
            k: data[k] for k in ("product_id", "sku", "customer_id", "author_name", "rating", "title", "body")
        } == {
            "product_id": review["product_id"],
            "sku": "SKU-1",
            "customer_id": "cus_1",
            "author_name": "Ana L.",
            "rating": 4,
            "title": "Comfortable",
            "body": "Light and comfortable.",
        }
        assert data["version"] == 2 and data["reply"] is None and "email" not in data

        # Published already: 409, no second event.
        r = await http.post(f"/v1/reviews/{review['id']}/publish")
        assert r.status_code == 409, r.text

        # The shop answers: the storefront gets the review again, with the reply, one version up.
        r = await http.put(
            f"/v1/reviews/{review['id']}/reply", json={"body": "Thank you, Ana!"}, headers=STAFF
        )
        assert r.status_code == 200 and r.json()["reply"]["author"] == "maria@shop.example", r.text
        found = await broker.wait_for("review.published", lambda e: e["data"]["id"] == review["id"], count=2)
        latest = max((m["body"]["data"] for m in found), key=lambda d: d["version"])
        assert latest["version"] == 3 and latest["reply"]["body"] == "Thank you, Ana!"

        # Taken down: review.withdrawn; the reason stays here.
        r = await http.post(f"/v1/reviews/{review['id']}/reject", json={"reason": "Names a staff member"})
        assert r.status_code == 200 and r.json()["status"] == "rejected", r.text
        assert r.json()["reject_reason"] == "Names a staff member"
        [gone] = await broker.wait_for("review.withdrawn", lambda e: e["data"]["id"] == review["id"])
        assert (
            gone["body"]["data"]["version"] == 4
            and gone["body"]["data"]["product_id"] == review["product_id"]
        )
        assert "reason" not in gone["body"]["data"]
        assert (
            await http.post(f"/v1/reviews/{review['id']}/reject", json={"reason": "again"})
        ).status_code == 409


async def test_rejecting_a_pending_review_tells_storefronts_nothing(svc, broker):
    async with svc.client() as http:
        review = await submit(http)
        r = await http.post(f"/v1/reviews/{review['id']}/reject", json={"reason": "Spam"}, headers=STAFF)
        assert r.status_code == 200 and r.json()["reject_reason"] == "Spam"
        assert r.json()["moderated_by"] == "maria@shop.example"
        r = await http.post(f"/v1/reviews/{review['id']}/reject", json={"reason": ""})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "reason"
        await asyncio.sleep(1.5)
        assert broker.events("review.withdrawn", lambda e: e["data"]["id"] == review["id"]) == []
        assert broker.events("review.published", lambda e: e["data"]["id"] == review["id"]) == []

        for method, path, body in [
            ("GET", "/v1/reviews/rev_nope", None),
            ("POST", "/v1/reviews/rev_nope/publish", None),
            ("POST", "/v1/reviews/rev_nope/reject", {"reason": "x"}),
            ("PUT", "/v1/reviews/rev_nope/reply", {"body": "x"}),
        ]:
            assert (await http.request(method, path, json=body)).status_code == 404, path


async def test_bad_input_is_refused_with_the_field_and_nothing_is_stored(svc):
    prod = product()
    async with svc.client() as http:
        for change, field in [
            ({"rating": 0}, "rating"),
            ({"rating": 6}, "rating"),
            ({"rating": 4.5}, "rating"),
            ({"rating": "5"}, "rating"),
            ({"title": ""}, "title"),
            ({"email": "nope"}, "email"),
            ({"product_id": ""}, "product_id"),
            ({"email": None}, "customer_id"),  # nobody named
        ]:
            body = {"product_id": prod, "email": "ana@example.com", "rating": 5, "title": "t", **change}
            r = await http.post("/v1/reviews", json=body)
            assert r.status_code == 422, (change, r.text)
            assert field in [e["field"] for e in r.json()["errors"]], (change, r.json())
        r = await http.get("/v1/reviews", params={"product_id": prod})
        assert r.json()["items"] == []


async def test_the_same_storefront_review_is_stored_once(svc):
    async with svc.client() as http:
        first = await submit(http, external_id="shop-eu:r-991")
        r = await http.post(
            "/v1/reviews",
            json={
                "product_id": first["product_id"],
                "email": "ana@example.com",
                "rating": 1,
                "title": "again",
                "external_id": "shop-eu:r-991",
            },
        )
        assert r.status_code == 200 and r.json() == first


async def test_filters_and_paging(svc):
    prod = product()
    async with svc.client() as http:
        made = [await submit(http, product_id=prod, rating=rating) for rating in (5, 3, 5, 1, 5)]
        await http.post(f"/v1/reviews/{made[2]['id']}/publish")

        async def walk(**params) -> list[str]:
            seen, cursor = [], None
            while True:
                q = {"product_id": prod, "limit": 2, **params, **({"cursor": cursor} if cursor else {})}
                r = await http.get("/v1/reviews", params=q)
                assert r.status_code == 200, r.text
                seen += [x["id"] for x in r.json()["items"]]
                cursor = r.json()["next_cursor"]
                if cursor is None:
                    return seen

        assert await walk() == [m["id"] for m in reversed(made)]
        assert await walk(rating=5) == [made[4]["id"], made[2]["id"], made[0]["id"]]
        assert await walk(status="published") == [made[2]["id"]]
        assert len(await walk(status="pending")) == 4
        for params, field in [
            ({"rating": 9}, "rating"),
            ({"status": "hidden"}, "status"),
            ({"cursor": "x"}, "cursor"),
        ]:
            r = await http.get("/v1/reviews", params=params)
            assert r.status_code == 422 and field in r.json()["errors"][0]["field"], r.text
