"""Issue 20, an OpenAPI document that tells the truth: the refusals of the ledger that fuzzing
rarely reaches (a hold beyond the balance, a key used again with another request, a hold no
longer active, no programme in effect) are answered as its /openapi.json documents them."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from ledger_support import customer

from harness import Broker, envelope, eventually


@pytest.fixture
def ledger(system):
    return system.service("ledger")


def as_documented(doc: dict, method: str, path: str, r, slug: str, described: bool = True) -> None:
    """`r` is a problem with this slug, and its status is documented for the operation (and the
    slug in that answer's description)."""
    assert r.headers["content-type"] == "application/problem+json", r.text
    assert r.json()["type"].endswith(f"/{slug}"), r.text
    documented = doc["paths"][path][method]["responses"]
    assert str(r.status_code) in documented, (method, path, r.status_code, list(documented))
    if described:
        assert slug in documented[str(r.status_code)]["description"], documented[str(r.status_code)]


async def test_each_refusal_is_a_documented_answer(ledger, broker: Broker):
    c = f"cus_{uuid.uuid4().hex[:10]}"
    await broker.publish(envelope("customer.created", customer(c), source="/crm/customers"))
    async with ledger.client() as http:
        doc = (await http.get("/openapi.json")).json()
        holds, entries = "/v1/accounts/{customer_id}/holds", "/v1/accounts/{customer_id}/entries"

        async def short_hold():
            r = await http.post(f"/v1/accounts/{c}/holds", json={"amount": 100, "currency": "EUR"})
            return r if r.status_code != 404 else None  # the customer still on its way

        as_documented(doc, "post", holds, await eventually(short_hold), "insufficient-funds")

        key = {"Idempotency-Key": uuid.uuid4().hex}
        funding = {"kind": "funding", "amount": 500, "currency": "EUR"}
        assert (await http.post(f"/v1/accounts/{c}/entries", json=funding, headers=key)).status_code == 201
        again = await http.post(f"/v1/accounts/{c}/entries", json={**funding, "amount": 7}, headers=key)
        as_documented(doc, "post", entries, again, "idempotency-key-reused")
        debit = {"kind": "unfunding", "amount": 10**6, "currency": "EUR"}
        as_documented(
            doc,
            "post",
            entries,
            await http.post(f"/v1/accounts/{c}/entries", json=debit),
            "insufficient-funds",
        )

        hold = (await http.post(f"/v1/accounts/{c}/holds", json={"amount": 100, "currency": "EUR"})).json()
        assert (await http.post(f"/v1/accounts/{c}/holds/{hold['id']}/capture")).status_code == 200
        void = await http.post(f"/v1/accounts/{c}/holds/{hold['id']}/void")
        as_documented(doc, "post", holds + "/{hold_id}/void", void, "hold-not-active")
        other = (await http.post(f"/v1/accounts/{c}/holds", json={"amount": 100, "currency": "EUR"})).json()
        assert (await http.post(f"/v1/accounts/{c}/holds/{other['id']}/void")).status_code == 200
        capture = await http.post(f"/v1/accounts/{c}/holds/{other['id']}/capture")
        as_documented(doc, "post", holds + "/{hold_id}/capture", capture, "hold-not-active")

        # The only programme starts tomorrow: none is in effect now.
        tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
        patched = await http.patch("/v1/reward-programmes/default", json={"starts_at": tomorrow})
        assert patched.status_code == 200, patched.text
        none = await http.get("/v1/reward-program")
        assert none.status_code == 404
        as_documented(doc, "get", "/v1/reward-program", none, "not-found", described=False)
