"""The CRM's external contract as Pydantic v2 models (docs/contract.md). No I/O in here."""

from crm_contracts.envelope import CloudEvent, new_event
from crm_contracts.names import DEAD_LETTER_EXCHANGE, EXCHANGE, EventType
from crm_contracts.registry import EVENT_MODELS, INBOUND, OUTBOUND

__all__ = [
    "CloudEvent",
    "new_event",
    "EXCHANGE",
    "DEAD_LETTER_EXCHANGE",
    "EventType",
    "EVENT_MODELS",
    "INBOUND",
    "OUTBOUND",
]
