"""The personal-data protocol (GDPR): answer personal_data.requested with what segments holds
about the customer, and confirm an erasure with personal_data.erased. Each answer is one
inserted record carrying its event (the outbox), with an event id derived from the request (or
the customer), so a redelivered request or deletion publishes the same event again."""

from typing import Any
from uuid import uuid4

from crm_contracts import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import PersonalDataCollected, PersonalDataErased, PersonalDataRequested
from crm_contracts.types import utcnow
from crm_segments.domain import personal_data
from crm_segments.service.membership import Membership
from crm_servicekit.clock import now_ms
from crm_servicekit.outbox import pending


async def collect(live: Membership, request: PersonalDataRequested) -> None:
    store = live.store
    profile = await store.profile(request.customer_id)
    changes = await store.membership_history(request.customer_id)
    names: dict[str, str] = {}
    for segment_id in {c["segment_id"] for c in changes}:
        seg = await store.segment(segment_id)
        run = None if seg else await store.run_of(segment_id)
        names[segment_id] = seg["name"] if seg else run["name"] if run else ""
    key = profile.get("email_key") if profile else None
    facts = await store.orders_of(request.customer_id, key)
    data = personal_data.export(profile, personal_data.memberships(changes, names), facts)
    answer = PersonalDataCollected(
        request_id=request.request_id,
        customer_id=request.customer_id,
        service=personal_data.SERVICE,
        data=data,
        collected_at=utcnow(),
    )
    event = new_event(
        EventType.PERSONAL_DATA_COLLECTED,
        live.source,
        answer,
        subject=request.customer_id,
        id=personal_data.collected_event_id(request.request_id),
    )
    await _record(live, f"collected|{request.request_id}", request.customer_id, event)


async def confirm_erasure(live: Membership, customer_id: str, erased: dict[str, int]) -> None:
    confirmation = PersonalDataErased(
        customer_id=customer_id, service=personal_data.SERVICE, erased=erased, at=utcnow()
    )
    event = new_event(
        EventType.PERSONAL_DATA_ERASED,
        live.source,
        confirmation,
        subject=customer_id,
        id=personal_data.erased_event_id(customer_id),
    )
    await _record(live, f"erased|{customer_id}", customer_id, event)


async def _record(live: Membership, record_id: str, customer_id: str, event: dict[str, Any]) -> None:
    await live.store.record_personal_data(
        {"_id": record_id, "customer_id": customer_id, "recorded_at": now_ms(), **pending([event])}  # type: ignore[typeddict-item]
    )


def anonymous_id() -> str:
    """What an erased customer's order facts are kept under: nobody can tell whose they were."""
    return f"erased_{uuid4().hex}"
