"""The envelope is CloudEvents 1.0 as the spec says, checked against the CloudEvents SDK for
Python: what the SDK writes we accept; what we publish the SDK reads and validates; only
specversion, id, source and type are required."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent as SdkEvent
from pydantic import ValidationError

from crm_contracts.envelope import CloudEvent, new_event
from crm_contracts.inbound import OrderCancelled

CANCELLED = {
    "order_id": "ord_1",
    "cancelled_at": "2026-11-22T11:00:00+01:00",
    "customer": {"email": "ana@example.com"},
}


def test_an_event_written_by_the_sdk_is_accepted_with_its_extensions():
    sdk = SdkEvent(
        {
            "id": "e-1",
            "source": "/storefronts/eu",
            "type": "order.cancelled",
            "time": datetime(2026, 11, 22, 12, 0, tzinfo=UTC),
            "subject": "ord_1",
            "datacontenttype": "application/json",
            "crmlane": "bulk",
        },
        CANCELLED,
    )
    ours = CloudEvent[OrderCancelled].model_validate_json(JSONFormat().write(sdk))
    assert (ours.id, ours.source, ours.type, ours.subject) == (
        "e-1",
        "/storefronts/eu",
        "order.cancelled",
        "ord_1",
    )
    assert ours.time == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert ours.data.cancelled_at == datetime(2026, 11, 22, 10, 0, tzinfo=UTC)  # normalised to UTC
    assert ours.model_extra == {"crmlane": "bulk"}


def test_only_specversion_id_source_and_type_are_required():
    before = datetime.now(UTC)
    minimal = {
        "specversion": "1.0",
        "id": "e-2",
        "source": "/s",
        "type": "order.cancelled",
        "data": CANCELLED,
    }
    event = CloudEvent[OrderCancelled].model_validate(minimal)
    # no time: the time of receipt stands in; no datacontenttype: JSON
    assert before <= event.time <= datetime.now(UTC) + timedelta(seconds=1)
    assert event.time.tzinfo is not None and event.datacontenttype == "application/json"
    for missing in ("specversion", "id", "source", "type"):
        with pytest.raises(ValidationError, match=missing):
            CloudEvent[OrderCancelled].model_validate({k: v for k, v in minimal.items() if k != missing})


def test_what_we_publish_is_a_valid_cloudevent_for_the_sdk():
    body = json.dumps(new_event("order.cancelled", "/crm/customers", CANCELLED, subject="ord_1"))
    sdk = JSONFormat().read(None, body)  # the SDK validates required and optional attributes
    assert sdk.get_specversion() == "1.0" and sdk.get_type() == "order.cancelled"
    assert sdk.get_source() == "/crm/customers" and sdk.get_subject() == "ord_1"
    assert sdk.get_time() is not None and sdk.get_time().utcoffset() == timedelta(0)
    assert sdk.get_data() == CANCELLED
