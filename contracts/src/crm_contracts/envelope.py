"""CloudEvents 1.0 structured-mode envelope (docs/contract.md §1)."""

from typing import Any, Generic, TypeVar
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field

from crm_contracts.types import UtcDatetime, utcnow

D = TypeVar("D")


class CloudEvent(BaseModel, Generic[D]):
    """The envelope of every message on `crm.events`. `data` is typed per event type."""

    model_config = ConfigDict(extra="allow")  # CloudEvents extension attributes are allowed

    specversion: str = Field(pattern=r"^1\.0$", description="CloudEvents version: 1.0")
    id: str = Field(min_length=1, max_length=200, description="Unique; consumers deduplicate on it")
    source: str = Field(min_length=1, max_length=500, description="URI reference of the emitter")
    type: str = Field(min_length=1, max_length=200, description="Event type = routing key")
    # Optional in CloudEvents 1.0: where a producer leaves it out, the time of receipt stands in.
    time: UtcDatetime = Field(
        default_factory=utcnow,
        description="When it happened (RFC 3339); where absent, the time the CRM received the event",
    )
    subject: str | None = Field(default=None, max_length=500)
    datacontenttype: str = "application/json"
    data: D


def new_event(
    type: str, source: str, data: Any, *, subject: str | None = None, id: str | None = None
) -> dict[str, Any]:
    """Build an outbound envelope as a JSON-ready dict (what the outbox stores)."""
    payload = data.model_dump(mode="json") if isinstance(data, BaseModel) else data
    return CloudEvent[Any](
        specversion="1.0",
        id=id or str(uuid4()),
        source=source,
        type=str(type),
        time=utcnow(),
        subject=subject,
        data=payload,
    ).model_dump(mode="json", exclude_none=True)
