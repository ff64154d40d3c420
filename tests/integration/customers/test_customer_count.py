"""GET /v1/customers/count: how many customers the list shows with the same filters (the
console's "N customers"), through the real service and database."""

import uuid

import pytest


@pytest.fixture
def customers(system):
    return system.service("customers")


async def test_count_follows_the_list_filters(customers):
    run = uuid.uuid4().hex[:6]
    async with customers.client() as http:
        for first, account, tags, status in [
            ("Ana", True, ["vip"], "enabled"),
            ("Bruno", False, ["vip"], "enabled"),
            ("Carla", True, [], "inactive"),
        ]:
            r = await http.post(
                "/v1/customers",
                json={
                    "email": f"{first.lower()}.{run}@count{run}.com",
                    "first_name": first,
                    "last_name": f"Count{run}",
                    "has_account": account,
                    "tags": [*tags, f"c{run}"],
                    "status": status,
                },
            )
            assert r.status_code == 201, r.text

        async def count(**params) -> int:
            r = await http.get("/v1/customers/count", params={"tag": f"c{run}", **params})
            assert r.status_code == 200, r.text
            assert set(r.json()) == {"count"}
            return r.json()["count"]

        assert await count() == 3
        assert await count(tag="vip", q=f"count{run}") == 2  # tag and the quick search together
        assert await count(has_account="false") == 1
        assert await count(status="inactive") == 1
        assert await count(q="ana") >= 1 and await count(q="ana", tag=f"c{run}") == 1
        assert await count(sort="-total_spent") == 3  # sorting changes nothing
        r = await http.get("/v1/customers", params={"tag": f"c{run}", "limit": 2})
        assert len(r.json()["items"]) == 2 and r.json()["next_cursor"]  # the list pages; the count does not


async def test_count_refuses_what_the_list_refuses(customers):
    async with customers.client() as http:
        r = await http.get("/v1/customers/count", params={"status": "asleep"})
        assert r.status_code == 422
        assert any(e["field"].endswith("status") for e in r.json()["errors"])
        r = await http.get("/v1/customers/count", headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
