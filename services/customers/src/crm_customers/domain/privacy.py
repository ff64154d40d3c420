"""Personal data across services (GDPR), with no I/O: the status of an export assembled from
the parts each service sent, and what became of a scheduled erasure."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal
from uuid import uuid4

from crm_customers.domain.documents import (
    ErasureDone,
    ErasureOutcome,
    PersonalDataPart,
    PersonalDataRequest,
)
from crm_servicekit.errors import Conflict

SERVICE = "customers"  # our own part of an export, assembled when it is read
MAX_GRACE_DAYS = 365

ExportStatus = Literal["collecting", "complete"]
ErasureStatus = Literal["scheduled", "cancelled", "carrying_out", "carried_out"]
ERASURE_STATUSES: tuple[ErasureStatus, ...] = ("scheduled", "cancelled", "carrying_out", "carried_out")


def new_request_id() -> str:
    return f"pdr_{uuid4().hex}"


def new_erasure_id() -> str:
    return f"era_{uuid4().hex}"


def part_id(request_id: str, service: str) -> str:
    return f"{request_id}|{service}"


@dataclass(frozen=True)
class ExportProgress:
    status: ExportStatus
    answered: list[str]  # services whose part is stored, in the order they answered
    awaited: list[str]  # expected services that have not answered yet
    completed_at: datetime | None  # when the last expected part arrived


def progress(request: PersonalDataRequest, parts: list[PersonalDataPart]) -> ExportProgress:
    """Complete when every expected service has answered (a service not expected may answer
    too: its part is shown, it completes nothing)."""
    ordered = sorted(parts, key=lambda p: (p["received_at"], p["service"]))
    answered = [p["service"] for p in ordered]
    awaited = [s for s in request["expected"] if s not in answered]
    if awaited:
        return ExportProgress("collecting", answered, awaited, None)
    last = max((p["received_at"] for p in ordered if p["service"] in request["expected"]), default=None)
    return ExportProgress("complete", answered, [], last or request["requested_at"])


def due_at(requested_at: datetime, grace_days: int) -> datetime:
    return requested_at + timedelta(days=grace_days)


def erasure_status(outcome: ErasureOutcome | None, done: ErasureDone | None) -> ErasureStatus:
    if done is not None:
        return "carried_out"
    if outcome is None:
        return "scheduled"
    return "cancelled" if outcome["outcome"] == "cancelled" else "carrying_out"


def erasure_pending(customer_id: str, request_id: str) -> Conflict:
    return Conflict(
        "erasure-pending",
        "An erasure is already scheduled",
        f"customer {customer_id} already has an open erasure request {request_id}",
        request_id=request_id,
    )


def erasure_not_cancellable(request_id: str, status: ErasureStatus) -> Conflict:
    return Conflict(
        "erasure-carried-out",
        "The erasure can no longer be cancelled",
        f"erasure request {request_id} is {status.replace('_', ' ')}",
        erasure_status=status,
    )
