"""Wires one service: settings, MongoDB, broker and topology, consumer, outbox relay, periodic
jobs and the HTTP app, with a lifespan that starts and stops them in order."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, Generic, TypeVar

import uvicorn
from fastapi import APIRouter, FastAPI, Request
from faststream.middlewares import AckPolicy
from faststream.rabbit import Channel, RabbitBroker
from faststream.rabbit.annotations import RabbitMessage
from pymongo.asynchronous.database import AsyncDatabase

from crm_servicekit import gauges, http, logs, tracing
from crm_servicekit.consumer import INBOX_INDEXES, EventConsumer, EventHandlers
from crm_servicekit.http import create_app
from crm_servicekit.messaging import (
    EVENTS,
    bulk_queue,
    declare_topology,
    events_queue,
    make_broker,
    publish_event,
)
from crm_servicekit.mongo import IndexSpec, Mongo
from crm_servicekit.outbox import OutboxRelay, OutboxSource
from crm_servicekit.settings import ServiceSettings

log = logging.getLogger(__name__)

C = TypeVar("C")


@dataclass
class Runtime:
    """What a service's setup gets to build its context from."""

    settings: ServiceSettings
    db: AsyncDatabase
    broker: RabbitBroker
    notify_outbox: Callable[[], None]


@dataclass
class Periodic:
    """A job run every `seconds` (expiry, re-evaluation...). Failures are logged and retried."""

    name: str
    seconds: float
    run: Callable[[], Awaitable[Any]]


@dataclass
class Wiring(Generic[C]):
    """What a service's setup returns."""

    context: C
    indexes: IndexSpec = field(default_factory=dict)
    outbox: list[OutboxSource] = field(default_factory=list)
    periodic: list[Periodic] = field(default_factory=list)


async def prune(db: AsyncDatabase, sources: list[OutboxSource], days: float) -> None:
    """Deletes processed event ids and published, prunable change records older than `days`.
    A redelivery older than that is not expected; the effects stay keyed by natural keys."""
    cutoff = datetime.now(UTC) - timedelta(days=days)
    await db["inbox"].delete_many({"processed_at": {"$lt": cutoff}})
    for source in sources:
        if source.prunable:
            await source.collection.delete_many({"published": True, "recorded_at": {"$lt": cutoff}})


def context(request: Request) -> Any:
    """FastAPI dependency: the service's context object."""
    return request.app.state.context


async def _every(job: Periodic) -> None:
    while True:
        try:
            await job.run()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001
            log.exception("periodic job %s failed", job.name)
        await asyncio.sleep(job.seconds)


class Service:
    def __init__(
        self,
        name: str,
        settings_cls: type[ServiceSettings],
        *,
        setup: Callable[[Runtime], Awaitable[Wiring[Any]]],
        handlers: EventHandlers | None = None,
        routers: list[APIRouter] | None = None,
        public_routers: list[APIRouter] | None = None,
    ) -> None:
        self.name = name
        self.settings_cls = settings_cls
        self.setup = setup
        self.handlers = handlers or EventHandlers()
        self.routers = routers or []
        self.public_routers = public_routers or []

    def app(self, settings: ServiceSettings | None = None) -> FastAPI:
        settings = settings or self.settings_cls()
        settings.service_name = self.name
        tracing.configure(self.name)  # before the MongoDB client is made
        mongo = Mongo(settings.mongodb_url, settings.database_name, settings.ferretdb_postgresql_url)
        broker = make_broker(settings)
        relay = OutboxRelay(lambda env: publish_event(broker, env), [], settings.outbox_poll_seconds)
        holder: dict[str, Any] = {}

        async def on_message(msg: RabbitMessage) -> None:
            await holder["consumer"](msg)

        async def on_bulk_message(msg: RabbitMessage) -> None:
            await holder["bulk"](msg)

        if self.handlers.routes:
            broker.subscriber(
                events_queue(self.name, settings.delivery_limit),
                EVENTS,
                ack_policy=AckPolicy.MANUAL,
            )(on_message)
            # The bulk lane on a channel of its own: its prefetch is its own share of the work.
            broker.subscriber(
                bulk_queue(self.name, settings.delivery_limit),
                channel=Channel(prefetch_count=settings.bulk_prefetch_count, publisher_confirms=True),
                ack_policy=AckPolicy.MANUAL,
            )(on_bulk_message)

        async def readiness() -> dict[str, str]:
            checks = {}
            try:
                await asyncio.wait_for(mongo.ping(), 2)
                checks["database"] = "ok"
            except Exception as e:  # noqa: BLE001
                checks["database"] = f"unreachable: {type(e).__name__}"
            try:
                checks["broker"] = "ok" if await broker.ping(timeout=2) else "unreachable"
            except Exception as e:  # noqa: BLE001
                checks["broker"] = f"unreachable: {type(e).__name__}"
            return checks

        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            logs.configure(self.name, settings.log_level)
            runtime = Runtime(settings, mongo.db, broker, relay.notify)
            wiring = await self.setup(runtime)
            await mongo.ensure_indexes({**INBOX_INDEXES, **wiring.indexes})
            consumer = partial(
                EventConsumer,
                self.name,
                self.handlers,
                mongo.db,
                broker,
                settings.delivery_limit,
                settings.max_message_bytes,
                wiring.context,
            )
            live = events_queue(self.name, settings.delivery_limit).name
            bulk = bulk_queue(self.name, settings.delivery_limit).name
            holder["consumer"] = consumer(queue=live, bulk_lane=bulk)
            holder["bulk"] = consumer(queue=bulk)
            app.state.context = wiring.context
            app.state.runtime = runtime
            relay.sources.extend(wiring.outbox)
            await broker.connect()
            await declare_topology(broker, self.name, settings.delivery_limit, self.handlers.routing_keys)
            await broker.start()
            if settings.outbox_relay:
                relay.start()
            periodic = list(wiring.periodic)
            periodic.append(
                Periodic(
                    "gauges",
                    settings.gauges_seconds,
                    lambda: gauges.sample(broker, self.name, settings.delivery_limit, wiring.outbox),
                )
            )
            if settings.retention_days:
                periodic.append(
                    Periodic(
                        "retention", 3600, lambda: prune(mongo.db, wiring.outbox, settings.retention_days)
                    )
                )
            jobs = [asyncio.create_task(_every(j), name=j.name) for j in periodic]
            log.info("%s started on %s:%s", self.name, settings.http_host, settings.http_port)
            try:
                yield
            finally:
                for job in jobs:
                    job.cancel()
                for subscriber in broker.subscribers:
                    await subscriber.stop()  # no new deliveries; in-flight ones finish
                if settings.outbox_relay:
                    await relay.stop()  # publishes what the last handlers stored
                await broker.stop()
                await mongo.close()
                tracing.shutdown()
                log.info("%s stopped", self.name)

        app = create_app(
            title=f"CRM {self.name}",
            tokens=settings.api_tokens,
            routers=self.routers,
            public_routers=self.public_routers,
            lifespan=lifespan,
            readiness=readiness,
        )
        tracing.instrument_http(app)
        return app

    def run(self) -> None:
        settings = self.settings_cls()
        if settings.http_reuse_port:
            sock = http.reuse_port_socket(settings.http_host, settings.http_port)
            address: dict[str, Any] = {"fd": sock.fileno()}
        else:
            address = {"host": settings.http_host, "port": settings.http_port}
        uvicorn.run(
            self.app(settings),
            **address,
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=20,
        )
