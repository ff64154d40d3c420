"""Consuming events: validation, idempotency, bounded retries and dead-lettering.

For each message on `<service>.events`:
- not JSON, not a CloudEvents envelope, a payload that does not fit the type's model, too
  large, or a handler raising `Unprocessable`: published to `crm.dead-letter` with the reason in
  headers (`x-crm-reason`), then acknowledged. It is never retried: it can never succeed.
- a type the service has no handler for: acknowledged and ignored (the queue is only bound to
  handled types, so this means somebody published to it directly).
- an event id already recorded in the service's `inbox`: acknowledged, nothing done.
- any other exception (database or broker away): the message goes back to the queue after a
  growing pause; when the quorum queue's delivery limit is near, it is dead-lettered with the
  error as reason instead of being retried forever.
- success: the event id is recorded in `inbox`, then the message is acknowledged. Handlers keep
  their effects idempotent (keyed by event id or a natural key) for the crash between the two.
"""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from faststream.rabbit import RabbitBroker
from faststream.rabbit.message import RabbitMessage
from pydantic import BaseModel, ValidationError
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from crm_contracts.envelope import CloudEvent
from crm_servicekit import metrics
from crm_servicekit.logs import event_id_var, event_type_var
from crm_servicekit.messaging import DEAD_LETTERS

log = logging.getLogger(__name__)


class Unprocessable(Exception):
    """Raised by a handler for an event that can never be processed (e.g. unknown customer)."""


Handler = Callable[[CloudEvent[Any], Any], Awaitable[None]]
"""(event, the service's context object) -> None"""


@dataclass(frozen=True)
class _Route:
    model: type[BaseModel]
    handler: Handler


class EventHandlers:
    """The event types a service consumes, each with its payload model and handler."""

    def __init__(self) -> None:
        self.routes: dict[str, _Route] = {}

    def on(self, event_type: str, model: type[BaseModel]) -> Callable[[Handler], Handler]:
        def register(fn: Handler) -> Handler:
            self.routes[str(event_type)] = _Route(model, fn)
            return fn

        return register

    @property
    def routing_keys(self) -> list[str]:
        return sorted(self.routes)


INBOX_INDEXES = {"inbox": [IndexModel([("processed_at", ASCENDING)])]}


def _errors(e: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}" for err in e.errors()
    )


class EventConsumer:
    def __init__(
        self,
        service: str,
        handlers: EventHandlers,
        db: AsyncDatabase,
        broker: RabbitBroker,
        delivery_limit: int,
        max_bytes: int,
        context: Any,
    ) -> None:
        self.service = service
        self.context = context
        self.handlers = handlers
        self.inbox = db["inbox"]
        self.broker = broker
        self.delivery_limit = delivery_limit
        self.max_bytes = max_bytes

    async def __call__(self, msg: RabbitMessage) -> None:
        body = msg.body
        if len(body) > self.max_bytes:
            return await self._dead_letter(msg, f"body of {len(body)} bytes exceeds {self.max_bytes}")
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return await self._dead_letter(msg, f"malformed JSON: {e}")
        try:
            envelope = CloudEvent[dict[str, Any]].model_validate(doc)
        except ValidationError as e:
            return await self._dead_letter(msg, f"invalid CloudEvents envelope: {_errors(e)}")
        id_token = event_id_var.set(envelope.id)
        type_token = event_type_var.set(envelope.type)
        try:
            await self._handle(msg, envelope, doc)
        finally:
            event_id_var.reset(id_token)
            event_type_var.reset(type_token)

    async def _handle(self, msg: RabbitMessage, envelope: CloudEvent[Any], doc: Any) -> None:
        event_type = envelope.type
        route = self.handlers.routes.get(envelope.type)
        if route is None:
            metrics.EVENTS_CONSUMED.labels(event_type, "ignored").inc()
            log.info("ignoring event type %s", envelope.type)
            return await msg.ack()
        try:
            event = CloudEvent[route.model].model_validate(doc)  # type: ignore[name-defined]
        except ValidationError as e:
            return await self._dead_letter(msg, f"invalid data for {envelope.type}: {_errors(e)}")

        started = time.perf_counter()
        try:
            if await self.inbox.find_one({"_id": event.id}, projection={"_id": 1}):
                metrics.EVENTS_CONSUMED.labels(event_type, "duplicate").inc()
                return await msg.ack()
            await route.handler(event, self.context)
            try:
                await self.inbox.insert_one(
                    {"_id": event.id, "type": event.type, "processed_at": datetime.now(timezone.utc)}
                )
            except DuplicateKeyError:
                pass  # processed concurrently by a redelivery: effects are idempotent
            metrics.EVENTS_CONSUMED.labels(event_type, "processed").inc()
            await msg.ack()
        except Unprocessable as e:
            await self._dead_letter(msg, str(e))
        except Exception as e:  # noqa: BLE001 - transient: retry, bounded
            await self._retry_later(msg, e)
        finally:
            metrics.HANDLER_SECONDS.labels(event_type).observe(time.perf_counter() - started)

    async def _retry_later(self, msg: RabbitMessage, error: Exception) -> None:
        deliveries = int((msg.raw_message.headers or {}).get("x-delivery-count", 0) or 0) + 1
        if deliveries >= self.delivery_limit - 1:
            return await self._dead_letter(
                msg, f"failed {deliveries} times, last error: {type(error).__name__}: {error}"
            )
        log.warning(
            "handling failed (delivery %d), will retry: %s: %s",
            deliveries, type(error).__name__, error,
        )
        metrics.EVENTS_CONSUMED.labels(msg.raw_message.routing_key or "?", "retried").inc()
        # A pause before requeueing, so a database outage of some seconds does not burn through
        # the delivery limit; prefetch bounds how many messages wait like this at once.
        await asyncio.sleep(min(0.2 * 2 ** min(deliveries, 5), 5.0))
        await msg.nack(requeue=True)

    async def _dead_letter(self, msg: RabbitMessage, reason: str) -> None:
        raw = msg.raw_message
        log.error("dead-lettering message %s: %s", raw.message_id, reason)
        metrics.EVENTS_CONSUMED.labels(raw.routing_key or "?", "dead_lettered").inc()
        headers = dict(raw.headers or {})
        headers.update(
            {
                "x-crm-reason": reason[:2000],
                "x-crm-service": self.service,
                "x-crm-original-exchange": raw.exchange or "",
                "x-crm-original-routing-key": raw.routing_key or "",
                "x-crm-dead-lettered-at": datetime.now(timezone.utc).isoformat(),
            }
        )
        await self.broker.publish(
            msg.body,
            exchange=DEAD_LETTERS,
            routing_key=self.service,
            persist=True,
            mandatory=False,
            headers=headers,
            message_id=raw.message_id,
            content_type=raw.content_type,
            timeout=10,
        )
        await msg.ack()
