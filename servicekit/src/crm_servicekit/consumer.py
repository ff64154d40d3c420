"""Consuming events: validation, idempotency, bounded retries and dead-lettering.

For each message on `<service>.events` or `<service>.intake` (and `<service>.bulk`, and the
partitions `<service>.p<i>`):
- marked `crmlane: "bulk"` (docs/contract.md) and valid as an envelope, on `<service>.events`
  or the intake:
  published unchanged into the service's bulk lane `<service>.bulk`, then acknowledged. Both
  queues are consumed side by side, so a live event waits at most for this move of the bulk
  events ahead of it, not for their handling. Moves do not wait for a handling slot (up to
  CRM_INTAKE_PREFETCH of them at once, while at most CRM_PREFETCH live events are handled), and
  while any is in hand the bulk lane waits (crm_servicekit.lanes): a backlog's move is what a
  live event behind it waits for. Order between the lanes is not kept: handlers already accept
  any order (versions, keyed effects).
  What a bulk event's handler stores to publish is bulk too (crm_servicekit.lanes.bulk_work).
- any other valid envelope on the intake of a partitioned service (CRM_PARTITIONS):
  published unchanged, with the customer it is about in the header `crm-key`, to the service's
  consistent-hash exchange, which puts it in that customer's partition; then acknowledged
  (crm_servicekit.partitions).
- on a partition, events of one customer (crm_servicekit.partitions.ordering_key) are handled
  one after another in the order they arrived; other customers' side by side.
- not JSON, a string holding U+0000 (crm_servicekit.storable), not a CloudEvents envelope, a payload that does not fit the type's model, too
  large, or a handler raising a permanent domain error (crm_servicekit.errors: `Invalid`,
  `NotFound`, `Conflict`...): published to `crm.dead-letter` with the reason in
  headers (`x-crm-reason`), then acknowledged. It is never retried: it can never succeed.
- a type the service has no handler for: acknowledged and ignored (the queue is only bound to
  handled types, so this means somebody published to it directly).
- an event id already recorded in the service's `inbox` (a duplicate): its handler runs again
  and changes nothing, because every effect is keyed; then acknowledged. Not looking the id up
  first saves a database round trip on every event, and duplicates are rare.
- any other exception (database or broker away): after a growing pause, a copy goes to the back
  of the queue it came from with its attempt count in the header `x-crm-attempts`, and the
  message is acknowledged; after CRM_DELIVERY_LIMIT - 1 attempts it is dead-lettered with the
  error as reason instead. We count attempts ourselves rather than trusting `x-delivery-count`:
  from RabbitMQ 4.3 a requeue (nack) no longer raises it. The quorum queue's own delivery limit
  stays as the backstop for deliveries a crashed consumer never answered.
- success: the event id is recorded in `inbox`, then the message is acknowledged. Handlers keep
  their effects idempotent (keyed by event id or a natural key), so a redelivery is harmless.
"""

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from faststream.rabbit import RabbitBroker, RabbitExchange
from faststream.rabbit.message import RabbitMessage
from pydantic import BaseModel, ValidationError
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from crm_contracts.envelope import CloudEvent
from crm_servicekit import metrics, tracing
from crm_servicekit.errors import DomainError
from crm_servicekit.lanes import LiveFirst, bulk_work
from crm_servicekit.logs import event_id_var, event_type_var
from crm_servicekit.messaging import DEAD_LETTERS
from crm_servicekit.partitions import KEY_HEADER, KeyedTurns, ordering_key
from crm_servicekit.storable import has_nul, may_have_nul

log = logging.getLogger(__name__)
DUPLICATE_KEY = 11000
ATTEMPTS = "x-crm-attempts"  # how often handling this message failed so far
# Where a message was first published (a dead letter names it, a replay goes there), carried
# along when it is moved to another queue or retried.
ORIGINAL_EXCHANGE, ORIGINAL_ROUTING_KEY = "x-crm-original-exchange", "x-crm-original-routing-key"


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


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


class Inbox:
    """The ids of processed events. Handlers run side by side (up to the prefetch count), so
    the ids of those that finish within a few milliseconds of each other are recorded with
    one insert: one round trip for many events instead of one each."""

    def __init__(self, collection: AsyncCollection, window: float = 0.005, most: int = 64) -> None:
        self.collection = collection
        self.window, self.most = window, most
        self._pending: list[tuple[dict[str, Any], asyncio.Future[bool]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writes: set[asyncio.Task[None]] = set()

    async def record(self, event_id: str, event_type: str) -> bool:
        """False if the id was recorded before (a duplicate delivery)."""
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._pending.append(
            ({"_id": event_id, "type": event_type, "processed_at": datetime.now(UTC)}, future)
        )
        if len(self._pending) >= self.most:
            self._flush()
        elif self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.window, self._flush)
        return await future

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._pending = self._pending, []
        if batch:
            task = asyncio.create_task(self._write(batch))
            self._writes.add(task)
            task.add_done_callback(self._writes.discard)

    async def _write(self, batch: list[tuple[dict[str, Any], asyncio.Future[bool]]]) -> None:
        duplicates: set[int] = set()
        try:
            await self.collection.insert_many([doc for doc, _ in batch], ordered=False)
        except BulkWriteError as e:
            errors = e.details.get("writeErrors", [])
            if any(err.get("code") != DUPLICATE_KEY for err in errors):
                return _fail(batch, e)
            duplicates = {err["index"] for err in errors}
        except Exception as e:  # noqa: BLE001 - each waiting handler retries its message
            return _fail(batch, e)
        for i, (_, future) in enumerate(batch):
            if not future.done():
                future.set_result(i not in duplicates)


def _fail(batch: list[tuple[dict[str, Any], "asyncio.Future[bool]"]], error: Exception) -> None:
    for _, future in batch:
        if not future.done():
            future.set_exception(error)


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
        queue: str,
        bulk_lane: str | None = None,
        partitions: RabbitExchange | None = None,
        ordered: bool = False,
        live_first: LiveFirst | None = None,
        bulk: bool = False,
        handling: int | None = None,
    ) -> None:
        """`queue`: the queue consumed (retries go back to it); `bulk_lane`: the queue bulk
        events are moved to, None for the consumer of that lane; `partitions`: the exchange
        live events are moved to, None where they are handled; `ordered`: one customer's
        events handled one after another (a partition's consumer); `live_first`, shared by a
        process's consumers, and `bulk` (this one consumes the bulk lane): bulk waits for live;
        `handling`: how many events are handled at once, when the queue's prefetch is larger so
        that moves go on beside them (None: as many as are delivered)."""
        self.service = service
        self.context = context
        self.handlers = handlers
        self.inbox = Inbox(db["inbox"])
        self.broker = broker
        self.delivery_limit = delivery_limit
        self.max_bytes = max_bytes
        self.queue = queue
        self.bulk_lane = bulk_lane
        self.partitions = partitions
        self.ordered = ordered
        self.turns = KeyedTurns()
        self.live_first = live_first or LiveFirst()
        self.bulk = bulk
        self.slots = asyncio.Semaphore(handling) if handling else None

    async def __call__(self, msg: RabbitMessage) -> None:
        body = msg.body
        if len(body) > self.max_bytes:
            return await self._dead_letter(msg, f"body of {len(body)} bytes exceeds {self.max_bytes}")
        try:
            doc = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return await self._dead_letter(msg, f"malformed JSON: {e}")
        if may_have_nul(body) and has_nul(doc):
            return await self._dead_letter(msg, "contains U+0000 (NUL), which cannot be stored")
        try:
            envelope = CloudEvent[dict[str, Any]].model_validate(doc)
        except ValidationError as e:
            return await self._dead_letter(msg, f"invalid CloudEvents envelope: {_errors(e)}")
        if self.bulk_lane and doc.get("crmlane") == "bulk":
            async with self.live_first.live():
                return await self._move(msg, None, self.bulk_lane, "to_bulk_lane")
        key = ordering_key(doc)
        if self.partitions:  # one customer's events one after another, so they arrive in order
            async with self.live_first.live(), self.turns.turn(key):
                return await self._move(msg, self.partitions, "", "to_partition", {KEY_HEADER: key})
        if self.bulk:
            await self.live_first.before_bulk()
        id_token = event_id_var.set(envelope.id)
        type_token = event_type_var.set(envelope.type)
        bulk_token = bulk_work.set(self.bulk or doc.get("crmlane") == "bulk")
        try:
            with tracing.consuming(msg.raw_message.headers or {}, doc, f"{self.service}.events"):
                async with AsyncExitStack() as stack:
                    if self.slots:
                        await stack.enter_async_context(self.slots)
                    if not self.bulk:
                        await stack.enter_async_context(self.live_first.live())
                    if self.ordered:
                        await stack.enter_async_context(self.turns.turn(key))
                    await self._handle(msg, envelope, doc)
        finally:
            event_id_var.reset(id_token)
            event_type_var.reset(type_token)
            bulk_work.reset(bulk_token)

    async def _handle(self, msg: RabbitMessage, envelope: CloudEvent[Any], doc: Any) -> None:
        event_type = envelope.type
        route = self.handlers.routes.get(envelope.type)
        if route is None:
            metrics.EVENTS_CONSUMED.labels(event_type, "ignored").inc()
            log.info("ignoring event type %s", envelope.type)
            return await self._ack(msg)
        try:
            event = CloudEvent[route.model].model_validate(doc)  # type: ignore[name-defined]
        except ValidationError as e:
            return await self._dead_letter(msg, f"invalid data for {envelope.type}: {_errors(e)}")

        started = time.perf_counter()
        try:
            # No lookup first: one round trip per event. A duplicate runs its handler again,
            # which changes nothing (every effect is keyed), and is then found here.
            await route.handler(event, self.context)
            outcome = "processed" if await self.inbox.record(event.id, event.type) else "duplicate"
            metrics.EVENTS_CONSUMED.labels(event_type, outcome).inc()
            await self._ack(msg)
        except DomainError as e:
            if e.transient:
                await self._retry_later(msg, e)
            else:  # can never succeed: retrying would only delay the next message
                await self._dead_letter(msg, str(e))
        except Exception as e:  # noqa: BLE001 - transient: retry, bounded
            await self._retry_later(msg, e)
        finally:
            metrics.HANDLER_SECONDS.labels(event_type).observe(time.perf_counter() - started)

    async def _move(
        self,
        msg: RabbitMessage,
        exchange: RabbitExchange | None,
        routing_key: str,
        operation: str,
        headers: dict[str, Any] | None = None,
    ) -> None:
        """Publishes the message unchanged to another queue (the default exchange routes by
        queue name) or exchange, then acknowledges it here."""
        raw = msg.raw_message
        try:
            await self.broker.publish(
                msg.body,
                exchange=exchange,
                routing_key=routing_key,
                persist=True,
                mandatory=True,
                # The trace context goes along; the next queue counts its own deliveries.
                headers={
                    ORIGINAL_EXCHANGE: raw.exchange or "",
                    ORIGINAL_ROUTING_KEY: raw.routing_key or "",
                    **{k: v for k, v in (raw.headers or {}).items() if k != "x-delivery-count"},
                    **(headers or {}),
                },
                message_id=raw.message_id,
                content_type=raw.content_type,
                timeout=10,
            )
        except Exception as e:  # noqa: BLE001 - broker away: stays in this queue, retried
            return await self._retry_later(msg, e)
        metrics.BROKER_OPERATIONS.labels(operation).inc()
        await self._ack(msg)

    async def _ack(self, msg: RabbitMessage) -> None:
        metrics.BROKER_OPERATIONS.labels("ack").inc()
        await msg.ack()

    async def _retry_later(self, msg: RabbitMessage, error: Exception) -> None:
        raw = msg.raw_message
        headers: dict[str, Any] = dict(raw.headers or {})
        attempts = max(_int(headers.get(ATTEMPTS)), _int(headers.get("x-delivery-count"))) + 1
        if attempts >= self.delivery_limit - 1:
            return await self._dead_letter(
                msg, f"failed {attempts} times, last error: {type(error).__name__}: {error}"
            )
        log.warning("handling failed (attempt %d), will retry: %s: %s", attempts, type(error).__name__, error)
        metrics.EVENTS_CONSUMED.labels(raw.routing_key or "?", "retried").inc()
        # A pause first, so a database outage of some seconds does not burn through the
        # attempts; prefetch bounds how many messages wait like this at once.
        await asyncio.sleep(min(0.2 * 2 ** min(attempts, 5), 5.0))
        headers.pop("x-delivery-count", None)
        headers[ATTEMPTS] = attempts
        headers.setdefault(ORIGINAL_EXCHANGE, raw.exchange or "")
        headers.setdefault(ORIGINAL_ROUTING_KEY, raw.routing_key or "")
        try:
            await self.broker.publish(
                msg.body,
                routing_key=self.queue,  # the default exchange routes by queue name
                persist=True,
                mandatory=True,
                headers=headers,
                message_id=raw.message_id,
                content_type=raw.content_type,
                timeout=10,
            )
        except Exception:  # noqa: BLE001 - the broker is away too: let it keep the message
            metrics.BROKER_OPERATIONS.labels("nack").inc()
            return await msg.nack(requeue=True)
        metrics.BROKER_OPERATIONS.labels("retry").inc()
        await self._ack(msg)

    async def _dead_letter(self, msg: RabbitMessage, reason: str) -> None:
        raw = msg.raw_message
        log.error("dead-lettering message %s: %s", raw.message_id, reason)
        metrics.EVENTS_CONSUMED.labels(raw.routing_key or "?", "dead_lettered").inc()
        headers = dict(raw.headers or {})
        headers.update(
            {
                "x-crm-reason": reason[:2000],
                "x-crm-service": self.service,
                ORIGINAL_EXCHANGE: headers.get(ORIGINAL_EXCHANGE, raw.exchange or ""),
                ORIGINAL_ROUTING_KEY: headers.get(ORIGINAL_ROUTING_KEY, raw.routing_key or ""),
                "x-crm-dead-lettered-at": datetime.now(UTC).isoformat(),
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
        metrics.BROKER_OPERATIONS.labels("dead_letter").inc()
        await self._ack(msg)
