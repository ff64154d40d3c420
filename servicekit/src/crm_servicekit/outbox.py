"""Transactional outbox without multi-document transactions.

A state change and the events it causes are stored in ONE document write: the document that
records the change carries `outbox` (the envelopes) and `published: False`. The relay takes up to
100 such records at a time, publishes their envelopes with publisher confirms and message_id =
event id, then sets `published: True` on all of them (_mark) and runs the source's
`after_publish` hook with the batch. Envelopes about different subjects are published side by
side (their confirms come back together); those about one subject go out one after the other,
in the order they were recorded. A crash between publishing and marking republishes
the same ids (consumers deduplicate on them); nothing stored is lost, nothing unstored is sent.

With several replicas, each record names the process that wrote it (`relay`), and a relay
publishes its own records; another's only once they are orphaned (older than
CRM_OUTBOX_ORPHAN_SECONDS: their process died or is stuck) or, in its first pass, everything
pending (what this process left before a restart). Without that every relay published every
record: as many copies of each event as replicas. Ordered sources are the exception: every relay
publishes all their records in recorded order, so that the first copy of each event, the one
consumers keep, comes in order whichever replica recorded it.

Live before bulk: a record whose events a live event or request caused carries `live: True`
until it is published. When a relay finds a full batch (a backlog, e.g. of a history import's
changes), it publishes its own live records before each next batch, from an index that holds
only them; the backlog's events are marked `crmlane: "bulk"` and go to the bulk lanes. So a live
shopper's change waits for one batch, not for the import. Ordered sources keep recorded order.

Rule for sources: once inserted, an outbox document is updated by the relay alone. FerretDB's
updates rewrite the whole document, so a service's own update racing the relay's
`published: True` could be lost (or undo it). Keep later changes in other documents.
"""

import asyncio
import logging
import os
import socket
import time
import uuid
from collections import OrderedDict, defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection

from crm_servicekit import logs, metrics, tracing
from crm_servicekit.lanes import bulk_work

log = logging.getLogger(__name__)

Publish = Callable[[dict[str, Any]], Awaitable[None]]
RELAY_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"  # this process
BATCH = 100  # records read, published and marked at once
MARKING_AT_ONCE = 8  # updates by `_id` in flight while a backlog's batch is marked
PUBLISHED = {"$set": {"published": True}, "$unset": {"live": ""}}


def pending(events: list[dict[str, Any]]) -> dict[str, Any]:
    """Fields to put in the document that records a change, so its events go out. Each event
    carries the trace context it was created in (tracing.stamp), for the relay to continue, and
    the id of the HTTP request that caused it, if one did (extension `crmrequestid`), and the
    person a trusted client named as its operator (extension `crmoperator`). Events that a
    bulk event caused, or that their maker marked bulk (CSV imports), are bulk
    (`crmlane: "bulk"`); any other record is `live` until it is published."""
    bulk = bulk_work.get() or (bool(events) and all(e.get("crmlane") == "bulk" for e in events))
    stamps = {
        "crmrequestid": logs.request_id_var.get(),
        "crmoperator": logs.operator_var.get(),
        "crmlane": "bulk" if bulk else None,
    }
    stamped = [tracing.stamp(e) for e in events]
    for key, value in stamps.items():
        if value is not None:
            stamped = [e if key in e else {**e, key: value} for e in stamped]
    if not events:
        return {"outbox": stamped, "published": True}
    return {"outbox": stamped, "published": False, "relay": RELAY_ID, **({} if bulk else {"live": True})}


OUTBOX_INDEXES = [
    IndexModel([("published", ASCENDING), ("recorded_at", ASCENDING)]),
    IndexModel([("live", ASCENDING)]),  # only records not published yet carry it
]
"""Every outbox source collection needs these indexes; documents carry `recorded_at`."""


class ProjectedHere:
    """The records this process has projected itself and its relay has not published yet, so
    that the relay's pass does not project them a second time (one command per record). A
    record published by another replica's relay is never taken: the oldest are forgotten.
    Room for a large backlog (a history import leaves tens of thousands waiting): a forgotten
    one is projected again, two more commands each, which slows the relay that is behind."""

    def __init__(self, most: int = 100_000) -> None:
        self._ids: OrderedDict[str, None] = OrderedDict()
        self._most = most

    def mark(self, record_id: str) -> None:
        self._ids[record_id] = None
        while len(self._ids) > self._most:
            self._ids.popitem(last=False)

    def take(self, record_id: str) -> bool:
        """True (and forgotten) if this process projected the record."""
        return self._ids.pop(record_id, False) is None


@dataclass
class OutboxSource:
    collection: AsyncCollection
    after_publish: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None
    """Runs with each batch of records once they are published (e.g. to project them)."""
    prunable: bool = False
    """True where published records are only a buffer (never for records like ledger entries)."""
    ordered: bool = True
    """True: records go out strictly in `recorded_at` order across batches, for events whose
    consumers cannot order them (segment joins and leaves). That costs a sort that FerretDB
    does in memory over every pending record, so a backlog makes each batch slower. False, for
    events that carry their entity's version or sequence: each batch is whatever pending
    records come first (nearly insertion order), sorted among themselves."""


class OutboxRelay:
    def __init__(
        self,
        publish: Publish,
        sources: list[OutboxSource],
        poll_seconds: float = 1.0,
        orphan_seconds: float = 30.0,
    ) -> None:
        self._publish = publish
        self.sources = sources
        self._poll = poll_seconds
        self._orphan_seconds = orphan_seconds
        self._next_orphan_pass = 0.0  # monotonic; 0: the first pass takes every pending record
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()

    def notify(self) -> None:
        """Called after a write that stored events: publish now instead of at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        # One last pass so that what was stored before shutdown goes out now, not at restart.
        try:
            await asyncio.wait_for(self.drain(), timeout=5)
        except Exception:  # noqa: BLE001 - the next start publishes what is left
            log.warning("outbox not drained at shutdown; it will be published at next start")

    async def _run(self) -> None:
        backoff = self._poll
        while True:
            try:
                await self.drain()
                backoff = self._poll
            except asyncio.CancelledError:
                raise
            except Exception:  # broker or database away: keep the events, retry later
                log.exception("outbox relay pass failed; retrying")
                backoff = min(backoff * 2, 10.0)
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass
            self._wake.clear()

    async def drain(self) -> int:
        """Publish everything pending, oldest first. Returns how many envelopes were sent."""
        sent = 0
        async with self._lock:  # one pass at a time keeps per-source order
            orphans = self._orphan_filter()
            for source in self.sources:
                if source.ordered:
                    sent += await self._drain(source, {"published": False})
                    continue
                sent += await self._drain(source, {"published": False, "relay": RELAY_ID})
                if orphans is not None:
                    sent += await self._drain(source, orphans)
        return sent

    def _orphan_filter(self) -> dict[str, Any] | None:
        """Every few seconds (not on every wake-up: one more query per source), the records of
        other processes that have waited too long; in the first pass all of them."""
        now = time.monotonic()
        if now < self._next_orphan_pass:
            return None
        first = self._next_orphan_pass == 0.0
        self._next_orphan_pass = now + max(self._orphan_seconds / 3, self._poll)
        query: dict[str, Any] = {"published": False, "relay": {"$ne": RELAY_ID}}
        if not first:
            query["recorded_at"] = {"$lt": datetime.now(UTC) - timedelta(seconds=self._orphan_seconds)}
        return query

    async def _drain(self, source: OutboxSource, query: dict[str, Any]) -> int:
        sent = 0
        backlog = False
        while True:
            if backlog and not source.ordered:  # what is live goes out before the next batch
                sent += await self._drain(source, {"live": True, "published": False, "relay": RELAY_ID})
            pending_ = source.collection.find(query)
            if source.ordered:
                pending_ = pending_.sort("recorded_at", ASCENDING)
            batch = await pending_.limit(BATCH).to_list()
            if not batch:
                return sent
            batch.sort(key=lambda d: d["recorded_at"])
            envelopes = [e for doc in batch for e in doc.get("outbox", [])]
            await self._publish_all(envelopes)
            sent += len(envelopes)
            await self._mark(source, batch)
            if source.after_publish:
                await source.after_publish(batch)
            backlog = len(batch) == BATCH and "live" not in query

    async def _mark(self, source: OutboxSource, batch: list[dict[str, Any]]) -> None:
        """Marks a published batch. One statement where the batch is all that is pending: the
        pushed-down `published` keeps the read to the pending records, and `$in` (which
        FerretDB does not push down) is matched among them. A full batch means a backlog,
        whose every record that one statement would decode, once per batch: then one update by
        `_id` per record, a few at a time. (Never a bulk of updates in one command: FerretDB
        1.24 holds a PostgreSQL connection per statement until the command ends, and relays
        marking side by side exhausted its pool.)"""
        if len(batch) < BATCH:
            await source.collection.update_many(
                {"published": False, "_id": {"$in": [d["_id"] for d in batch]}}, PUBLISHED
            )
            return
        slots = asyncio.Semaphore(MARKING_AT_ONCE)

        async def mark(record_id: Any) -> None:
            async with slots:
                await source.collection.update_one({"_id": record_id}, PUBLISHED)

        await asyncio.gather(*(mark(d["_id"]) for d in batch))

    async def _publish_all(self, envelopes: list[dict[str, Any]]) -> None:
        by_subject: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for envelope in envelopes:
            by_subject[envelope.get("subject") or envelope["id"]].append(envelope)

        async def in_order(group: list[dict[str, Any]]) -> None:
            for envelope in group:
                await self._publish(envelope)
                metrics.EVENTS_PUBLISHED.labels(envelope["type"]).inc()

        await asyncio.gather(*(in_order(g) for g in by_subject.values()))
