"""Issue 20: every ledger operation documents its response model, and the real bodies match
them member for member (no undocumented member, none missing), against the real broker and
FerretDB."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import BaseModel

from crm_ledger import schemas as s
from harness import Broker, envelope, eventually


@pytest.fixture
def ledger(system):
    return system.service("ledger", CRM_REWARD_POINTS_PER_UNIT="1", CRM_REWARD_TARGET="100")


def conforms(model: type[BaseModel], body: dict) -> None:
    model.model_validate(body)
    names = {f.alias or name for name, f in model.model_fields.items()}
    assert set(body) == names, (model.__name__, set(body) ^ names)
    for name, f in model.model_fields.items():  # nested models, one level of lists
        value = body[f.alias or name]
        inner = f.annotation
        args = getattr(inner, "__args__", ())
        sub = next((a for a in (inner, *args) if isinstance(a, type) and issubclass(a, BaseModel)), None)
        if sub is not None and isinstance(value, dict):
            conforms(sub, value)
        if isinstance(value, list) and args and isinstance(args[0], type) and issubclass(args[0], BaseModel):
            for item in value:
                conforms(args[0], item)


async def test_every_response_matches_its_documented_model(ledger, broker: Broker):
    c = f"cus_{uuid.uuid4().hex[:10]}"
    await broker.publish(
        envelope(
            "customer.created",
            {
                "id": c,
                "version": 1,
                "email": f"{c}@example.com",
                "has_account": True,
                "created_at": "2026-11-22T10:00:00Z",
                "updated_at": "2026-11-22T10:00:00Z",
            },
        )
    )
    async with ledger.client() as http:
        spec = (await http.get("/openapi.json")).json()
        for path, ops in spec["paths"].items():
            if not path.startswith("/v1/"):
                continue  # servicekit's health and metrics
            for method, op in ops.items():
                ok = [code for code in op["responses"] if code.startswith("2")]
                assert ok, (method, path)
                for code in ok:
                    schema = op["responses"][code]["content"]["application/json"]["schema"]
                    assert "$ref" in schema, (method, path, schema)

        future = (datetime.now(UTC) + timedelta(days=3)).isoformat()
        r = await http.post(
            f"/v1/accounts/{c}/entries",
            json={"kind": "funding", "amount": 900, "currency": "EUR", "expires_at": future},
        )
        assert r.status_code == 201, r.text
        conforms(s.EntryOut, r.json())
        conforms(s.EntryOut, (await http.get(f"/v1/accounts/{c}/entries/{r.json()['id']}")).json())
        conforms(s.EntryPage, (await http.get(f"/v1/accounts/{c}/entries")).json())
        conforms(s.AccountOut, (await http.get(f"/v1/accounts/{c}")).json())
        hold = await http.post(f"/v1/accounts/{c}/holds", json={"amount": 100, "currency": "EUR"})
        assert hold.status_code == 201
        conforms(s.HoldOut, hold.json())
        hid = hold.json()["id"]
        conforms(s.HoldOut, (await http.get(f"/v1/accounts/{c}/holds/{hid}")).json())
        conforms(s.HoldOut, (await http.post(f"/v1/accounts/{c}/holds/{hid}/capture")).json())
        other = (await http.post(f"/v1/accounts/{c}/holds", json={"amount": 100, "currency": "EUR"})).json()
        conforms(s.HoldOut, (await http.post(f"/v1/accounts/{c}/holds/{other['id']}/void")).json())

        conforms(s.ProgramInEffectOut, (await http.get("/v1/reward-program")).json())
        conforms(s.ProgrammeList, (await http.get("/v1/reward-programmes")).json())
        created = await http.post(
            "/v1/reward-programmes",
            json={
                "name": "Spring",
                "points_per_unit": 1,
                "thresholds": [{"points": 50, "coupon": {"kind": "percentage", "value": 5, "valid_days": 9}}],
                "starts_at": "2020-01-01T00:00:00Z",
            },
        )
        assert created.status_code == 201, created.text
        conforms(s.ProgrammeOut, created.json())
        pid = created.json()["id"]
        conforms(s.ProgrammeOut, (await http.get(f"/v1/reward-programmes/{pid}")).json())
        conforms(
            s.ProgrammeOut, (await http.patch(f"/v1/reward-programmes/{pid}", json={"name": "Spr"})).json()
        )

        await broker.publish(
            envelope(
                "order.placed",
                {
                    "order_id": "ord_models",
                    "placed_at": datetime.now(UTC).isoformat(),
                    "customer": {"email": f"{c}@example.com", "customer_id": c},
                    "currency": "EUR",
                    "total": 6000,
                },
            )
        )
        await broker.wait_for("reward.coupon.issued", lambda b: b["data"]["customer_id"] == c)
        rewards = await eventually(lambda: _rewards(http, c))
        conforms(s.RewardsOut, rewards)
        coupons = (await http.get(f"/v1/customers/{c}/coupons")).json()
        conforms(s.CouponPage, coupons)
        code = coupons["items"][0]["code"]
        conforms(s.CouponOut, (await http.post(f"/v1/coupons/{code}/redeem", json={"customer_id": c})).json())
        conforms(s.ReferralOut, (await http.get(f"/v1/customers/{c}/referral")).json())
        kpis = await http.get("/v1/loyalty/kpis", params={"from": "2020-01-01T00:00:00Z", "to": future})
        conforms(s.KpisOut, kpis.json())


async def _rewards(http, customer_id: str) -> dict | None:
    body = (await http.get(f"/v1/customers/{customer_id}/rewards")).json()
    return body if body["movements"] else None
