"""Wires one service: settings, MongoDB, broker and topology, consumer, outbox relay, periodic
jobs and the HTTP app, with a lifespan that starts and stops them in order."""

import asyncio
import logging
import os
import socket
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
from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from crm_servicekit import gauges, http, logs, tracing
from crm_servicekit.consumer import INBOX_INDEXES, EventConsumer, EventHandlers
from crm_servicekit.http import create_app
from crm_servicekit.lanes import LiveFirst
from crm_servicekit.messaging import (
    LIVE,
    bulk_queue,
    declare_topology,
    events_queue,
    intake_queue,
    make_broker,
    partition_exchange,
    partition_queue,
    publish_event,
)
from crm_servicekit.mongo import IndexSpec, Mongo, insert_once
from crm_servicekit.outbox import OutboxRelay, OutboxSource
from crm_servicekit.partitions import HOME_PRIORITY, own_partitions, priority
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
    """A job run every `seconds` (expiry, re-evaluation...). Failures are logged and retried.
    Unless `every_replica` (a cache of the process, a worker sharing a queue of work), one
    replica of the service runs it per period: the one that first records the period's run."""

    name: str
    seconds: float
    run: Callable[[], Awaitable[Any]]
    every_replica: bool = False


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
    await db["job_runs"].delete_many({"at": {"$lt": cutoff}})
    for source in sources:
        if source.prunable:
            await source.collection.delete_many({"published": True, "recorded_at": {"$lt": cutoff}})


def context(request: Request) -> Any:
    """FastAPI dependency: the service's context object."""
    return request.app.state.context


JOB_RUNS_INDEXES = {"job_runs": [IndexModel([("at", ASCENDING)])]}


async def _claim(db: AsyncDatabase, job: Periodic) -> bool:
    """True for the one replica that records this period's run (unique `_id`), whatever the
    processes' clocks of start; the others skip the period."""
    now = datetime.now(UTC)
    period = int(now.timestamp() // job.seconds)
    return await insert_once(db["job_runs"], {"_id": f"{job.name}:{period}", "at": now})


async def run_periodically(job: Periodic, db: AsyncDatabase) -> None:
    first = True  # a process that (re)starts runs the job at once: recovery must not wait
    while True:
        try:
            claimed = job.every_replica or await _claim(db, job)
            if claimed or first:
                first = False
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
        relay = OutboxRelay(
            lambda env: publish_event(broker, env),
            [],
            settings.outbox_poll_seconds,
            settings.outbox_orphan_seconds,
        )
        holder: dict[str, Any] = {}

        async def on_message(msg: RabbitMessage) -> None:
            await holder["consumer"](msg)

        async def on_bulk_message(msg: RabbitMessage) -> None:
            await holder["bulk"](msg)

        async def on_intake_message(msg: RabbitMessage) -> None:
            await holder["intake"](msg)

        def on_partition(p: int) -> Callable[[RabbitMessage], Awaitable[None]]:
            async def on_partition_message(msg: RabbitMessage) -> None:
                await holder[f"p{p}"](msg)

            return on_partition_message

        def subscribe_partition(p: int, priority: int, persistent: bool) -> Any:
            subscriber = broker.subscriber(
                partition_queue(self.name, p, settings.delivery_limit),
                channel=Channel(prefetch_count=settings.partition_prefetch_count, publisher_confirms=True),
                consume_args={"x-priority": priority},
                ack_policy=AckPolicy.MANUAL,
                persistent=persistent,
            )
            subscriber(on_partition(p))
            return subscriber

        own = own_partitions(settings.partitions, settings.replica_index, settings.replicas)

        if self.handlers.routes:
            # The live queue and the intake on channels of their own, with a prefetch larger
            # than the handling slots: moves (bulk to its lane, live to a partition) go on
            # beside the CRM_PREFETCH events being handled.
            broker.subscriber(
                events_queue(self.name, settings.delivery_limit),
                LIVE,
                channel=Channel(prefetch_count=settings.intake_prefetch_count, publisher_confirms=True),
                ack_policy=AckPolicy.MANUAL,
            )(on_message)
            # The bulk lane on a channel of its own: its prefetch is its own share of the work.
            broker.subscriber(
                bulk_queue(self.name, settings.delivery_limit),
                channel=Channel(prefetch_count=settings.bulk_prefetch_count, publisher_confirms=True),
                ack_policy=AckPolicy.MANUAL,
            )(on_bulk_message)
            broker.subscriber(
                intake_queue(self.name, settings.delivery_limit),
                channel=Channel(prefetch_count=settings.intake_prefetch_count, publisher_confirms=True),
                ack_policy=AckPolicy.MANUAL,
            )(on_intake_message)
            # With a known place, its own partitions first and the others a little later, as a
            # standby; otherwise all at once, each with its hashed priority (partitions.py).
            placed = settings.replica_index is not None and settings.replicas > 1
            replica = f"{socket.gethostname()}:{os.getpid()}"
            for p in own:
                subscribe_partition(p, HOME_PRIORITY if placed else priority(p, replica), persistent=True)
            if own:
                log.info("taking partitions %s first", own)

        async def subscribe_standby(partitions: list[int]) -> None:
            await asyncio.sleep(settings.partition_standby_seconds)
            try:
                for p in partitions:
                    await subscribe_partition(p, 0, persistent=False).start()
                log.info("standing by for partitions %s", partitions)
            except Exception:  # noqa: BLE001 - the own partitions go on being handled
                log.exception("subscribing to partitions %s as a standby failed", partitions)

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
            await mongo.ensure_indexes({**INBOX_INDEXES, **JOB_RUNS_INDEXES, **wiring.indexes})
            consumer = partial(
                EventConsumer,
                self.name,
                self.handlers,
                mongo.db,
                broker,
                settings.delivery_limit,
                settings.max_message_bytes,
                wiring.context,
                live_first=LiveFirst(),
            )
            live = events_queue(self.name, settings.delivery_limit).name
            bulk = bulk_queue(self.name, settings.delivery_limit).name
            spread = partition_exchange(self.name) if settings.partitions else None
            slots = settings.prefetch_count
            holder["consumer"] = consumer(queue=live, bulk_lane=bulk, partitions=spread, handling=slots)
            intake = intake_queue(self.name, settings.delivery_limit).name
            holder["intake"] = consumer(queue=intake, bulk_lane=bulk, partitions=spread, handling=slots)
            holder["bulk"] = consumer(queue=bulk, bulk=True)
            app.state.context = wiring.context
            app.state.runtime = runtime
            relay.sources.extend(wiring.outbox)
            await broker.connect()
            leftover = await declare_topology(
                broker,
                self.name,
                settings.delivery_limit,
                self.handlers.routing_keys,
                settings.partitions,
            )
            standby = [p for p in range(settings.partitions) if p not in own]
            if leftover:
                log.warning(
                    "partitions %s are left from a larger CRM_PARTITIONS: drained, then idle",
                    leftover,
                )
            for p in [*range(settings.partitions), *leftover]:
                holder[f"p{p}"] = consumer(queue=partition_queue(self.name, p, 0).name, ordered=True)
            await broker.start()
            if settings.outbox_relay:
                relay.start()
            periodic = list(wiring.periodic)
            periodic.append(
                Periodic(
                    "gauges",
                    settings.gauges_seconds,
                    lambda: gauges.sample(
                        broker, self.name, settings.delivery_limit, wiring.outbox, settings.partitions
                    ),
                    every_replica=True,  # each process reports its own /metrics
                )
            )
            if settings.retention_days:
                periodic.append(
                    Periodic(
                        "retention", 3600, lambda: prune(mongo.db, wiring.outbox, settings.retention_days)
                    )
                )
            jobs = [asyncio.create_task(run_periodically(j, mongo.db), name=j.name) for j in periodic]
            if self.handlers.routes and (standby or leftover):
                jobs.append(asyncio.create_task(subscribe_standby([*standby, *leftover])))
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
