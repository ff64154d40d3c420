"""A customer created with its addresses in one call (the console's "Add customer"): a bad
address is refused before anything exists, a good one is there at once."""

import uuid

import pytest


@pytest.fixture
def customers(system):
    return system.service("customers")


async def test_addresses_given_at_creation_are_checked_first_and_kept(customers):
    email = f"addr.{uuid.uuid4().hex[:8]}@example.com"
    billing = {"type": "billing", "line1": "Rua A 1", "city": "Lisboa", "country_code": "PT"}
    async with customers.client() as http:
        refused = await http.post(
            "/v1/customers", json={"email": email, "addresses": [billing, {"type": "shipping", "line1": "x"}]}
        )
        assert refused.status_code == 422
        assert {e["field"] for e in refused.json()["errors"]} == {
            "addresses.1.city",
            "addresses.1.country_code",
        }
        nothing = await http.get("/v1/customers", params={"q": email})
        assert nothing.json()["items"] == []  # nothing half-made

        shipping = {"type": "shipping", "line1": "Rua B 2", "city": "Porto", "country_code": "PT"}
        created = await http.post("/v1/customers", json={"email": email, "addresses": [billing, shipping]})
        assert created.status_code == 201, created.text
        kept = created.json()["addresses"]
        assert sorted((a["type"], a["city"], a["is_default"]) for a in kept) == [
            ("billing", "Lisboa", True),
            ("shipping", "Porto", True),
        ]
