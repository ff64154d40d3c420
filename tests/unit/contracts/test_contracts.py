"""Contracts: the envelope and inbound models accept docs/contract.md's examples and refuse what
would corrupt data (floats for money, naive times, bad codes); the docs are up to date."""

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from crm_contracts import EVENT_MODELS, CloudEvent, new_event
from crm_contracts.docs import render_index, schemas
from crm_contracts.inbound import OrderPlaced, OrderRefunded
from crm_contracts.names import EventType
from harness import order_placed

ROOT = Path(__file__).resolve().parents[3]

CONTRACT_ORDER = order_placed("ana@example.com", "ord_1001")


def envelope(data: dict) -> dict:
    return {
        "specversion": "1.0",
        "id": "3f1c9a0e",
        "source": "/storefronts/eu",
        "type": "order.placed",
        "time": "2026-11-22T10:00:00Z",
        "subject": "ord_1001",
        "datacontenttype": "application/json",
        "data": data,
    }


def test_contract_example_parses_with_utc_times():
    event = CloudEvent[OrderPlaced].model_validate(envelope(CONTRACT_ORDER))
    assert event.data.total == 12999 and event.data.placed_at.utcoffset().total_seconds() == 0
    assert event.data.shipping_address.country_code == "PT"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"total": 129.99}, "total"),
        ({"total": -1}, "total"),
        ({"currency": "eur"}, "currency"),
        ({"placed_at": "2026-11-22T10:00:00"}, "placed_at"),
        ({"customer": {"email": "not-an-email"}}, "customer.email"),
        ({"store_credit_used": 20000}, "store_credit_used"),
    ],
)
def test_inbound_order_rejects_corrupting_values(change, field):
    with pytest.raises(ValidationError) as e:
        OrderPlaced.model_validate({**CONTRACT_ORDER, **change})
    assert field.split(".")[0] in str(e.value)


def test_times_with_offsets_are_normalised_to_utc():
    r = OrderRefunded.model_validate(
        {
            "order_id": "o",
            "refunded_at": "2026-11-22T12:00:00+02:00",
            "customer": {"email": "a@example.com"},
            "currency": "EUR",
            "amount": 1,
        }
    )
    assert r.refunded_at.isoformat() == "2026-11-22T10:00:00+00:00"


def test_envelope_rejects_other_specversions_and_missing_id():
    with pytest.raises(ValidationError):
        CloudEvent[dict].model_validate({**envelope({}), "specversion": "0.3"})
    with pytest.raises(ValidationError):
        CloudEvent[dict].model_validate({k: v for k, v in envelope({}).items() if k != "id"})


def test_new_event_builds_a_valid_envelope():
    env = new_event(EventType.CUSTOMER_DELETED, "/crm/customers", {"id": "cus_1"}, subject="cus_1")
    parsed = CloudEvent[EVENT_MODELS["customer.deleted"]].model_validate(env)
    assert parsed.type == "customer.deleted" and parsed.data.id == "cus_1" and env["id"]
    assert json.loads(json.dumps(env)) == env


def test_every_event_type_has_a_model():
    assert {t.value for t in EventType} == set(EVENT_MODELS)


def test_committed_event_docs_are_up_to_date():
    docs = ROOT / "docs" / "events"
    current = schemas()
    for event_type, schema in current.items():
        path = docs / f"{event_type}.json"
        assert path.exists(), f"{path} missing: run ./crm docs"
        assert json.loads(path.read_text()) == schema, f"{path} is stale: run ./crm docs"
    assert (docs / "README.md").read_text() == render_index(current)
