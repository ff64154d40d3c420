"""Issue 20, an OpenAPI document that tells the truth: what the customers service answers is
what its /openapi.json says, for the answers fuzzing rarely reaches (a second 2xx, a cursor
with a time but no zone, an id that never named a customer)."""

import base64
import json
import uuid

import pytest


@pytest.fixture
def customers(system):
    return system.service("customers")


def cursor(key: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


async def test_a_cursor_without_a_timezone_is_refused_not_a_server_error(customers):
    async with customers.client() as http:
        c = (
            await http.post("/v1/customers", json={"email": f"tz.{uuid.uuid4().hex[:8]}@example.com"})
        ).json()
        asked = await http.post(f"/v1/customers/{c['id']}/erasure-requests")  # a list to page through
        assert (
            asked.status_code == 202
            and asked.headers["Location"] == f"/v1/erasure-requests/{asked.json()['id']}"
        )
        naive = cursor({"at": "2026-01-01T00:00:00", "id": "x"})
        for path in (
            f"/v1/customers/{c['id']}/history",
            "/v1/erasure-requests",
            f"/v1/customers/{c['id']}/notes",
        ):
            r = await http.get(path, params={"cursor": naive})
            assert r.status_code == 422, (path, r.text)
            assert r.json()["errors"] == [{"field": "cursor", "message": "invalid cursor"}]
        aware = cursor({"at": "2026-01-01T00:00:00+00:00", "id": "x"})
        assert (await http.get("/v1/erasure-requests", params={"cursor": aware})).status_code == 200


async def test_lists_of_an_unknown_customer_are_404_and_of_an_erased_one_stay_readable(customers):
    async with customers.client() as http:
        for path in ("/v1/customers/cus_never/merges", "/v1/customers/cus_never/erasure-requests"):
            r = await http.get(path)
            assert r.status_code == 404 and r.json()["type"].endswith("/not-found"), (path, r.text)
        c = (
            await http.post("/v1/customers", json={"email": f"gone.{uuid.uuid4().hex[:8]}@example.com"})
        ).json()
        assert (await http.get(f"/v1/customers/{c['id']}/erasure-requests")).json() == []
        assert (await http.delete(f"/v1/customers/{c['id']}")).status_code == 204
        # Erased: the erasure list still answers (the record of what was done), the rest is gone.
        assert (await http.get(f"/v1/customers/{c['id']}/erasure-requests")).json() == []
        assert (await http.get(f"/v1/customers/{c['id']}/merges")).status_code == 404


async def test_each_2xx_is_the_model_its_status_documents(customers):
    async with customers.client() as http:
        doc = (await http.get("/openapi.json")).json()
        create = doc["paths"]["/v1/customers"]["post"]["responses"]
        assert create["201"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/CustomerOut"
        }
        email = f"guest.{uuid.uuid4().hex[:8]}@example.com"
        guest = await http.post("/v1/customers", json={"email": email, "has_account": False})
        assert guest.status_code == 201 and guest.json()["id"]
        pending = await http.post("/v1/customers", json={"email": email, "password": "a-long-password"})
        assert pending.status_code == 202, pending.text
        assert pending.json()["status"] == "verification_pending" and "id" not in pending.json()
        assert pending.headers["content-type"] == "application/json"

        imports = doc["paths"]["/v1/customer-imports"]["post"]["responses"]
        assert imports["202"]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ImportJobOut"
        }
        assert imports["202"]["headers"]["Location"]["required"] is True
        dry = await http.post(
            "/v1/customer-imports",
            params={"dry_run": "true"},
            content=f"email\n{uuid.uuid4().hex[:8]}@example.com\n",
            headers={"Content-Type": "text/csv"},
        )
        assert dry.status_code == 200, dry.text
        assert dry.json() == {"dry_run": True, "rows": 1, "valid": 1, "problems": []}

        feed = doc["paths"]["/calendar/agents/{agent_id}/{token}.ics"]["get"]["responses"]
        for status in ("404", "422", "503"):
            assert list(feed[status]["content"]) == ["application/problem+json"]
        r = await http.get(f"/calendar/agents/{'a' * 101}/x.ics")
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json"
