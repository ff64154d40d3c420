"""The whole system under a realistic storefront stream, for fault-injection tests.

`SystemRun` starts the five services on a vhost and databases of their own, sets up segments,
a group with members and funded store-credit accounts (through the HTTP APIs), publishes a
seeded stream of storefront events (orders in several currencies, repeat buyers, store credit
spent, refunds to store credit, cancellations, newsletter consent), lets a test inject faults
between events, waits until the system is quiet and takes a `snapshot` of the final state
through the HTTP APIs, normalised so that two runs of the same stream compare equal.
"""

import asyncio
import json
import os
import random
import subprocess
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import httpx
from conftest import System
from pymongo import AsyncMongoClient

from harness import EXCHANGE, ROOT, Broker, envelope, eventually

SERVICES = ("customers", "groups", "ledger", "segments", "engagement")
CUSTOMERS = 16
FUNDED = 6  # the first FUNDED shoppers get store credit before the stream
FUNDING = 5000  # EUR minor units
VIP = 5  # the first VIP shoppers are members of the group "VIP"
SEGMENTS = {
    "Big spenders": "amount_spent >= 300",
    "Repeat buyers": "number_of_orders >= 3",
    "VIP subscribers": "customer_groups CONTAINS 'VIP' AND email_subscribed = true",
    "Credit holders": "store_credit_balance >= 40",
}
BASE = datetime(2026, 11, 1, tzinfo=UTC)
CATEGORIES = [
    ("SKU-RUN", "Runner", "shoes"),
    ("SKU-TEE", "Tee", "apparel"),
    ("SKU-CAP", "Cap", "accessories"),
    ("SKU-SOX", "Socks", "apparel"),
    ("SKU-BAG", "Bag", "accessories"),
]
COUNTRIES = [("PT", "Lisboa"), ("ES", "Madrid"), ("FR", "Paris"), ("DE", "Berlin")]


def email_of(i: int) -> str:
    return f"shopper{i:02d}@example.com"


def _order(
    i: int,
    order_id: str,
    at: datetime,
    currency: str,
    total: int,
    rng: random.Random,
    store_credit_used: int = 0,
) -> dict[str, Any]:
    country, city = COUNTRIES[i % len(COUNTRIES)]
    sku, name, category = rng.choice(CATEGORIES)
    qty = rng.randint(1, 3)
    return {
        "order_id": order_id,
        "placed_at": at.isoformat(),
        "customer": {
            "email": email_of(i),
            "customer_id": None,
            "first_name": f"First{i}",
            "last_name": f"Last{i}",
            "phone": None,
        },
        "currency": currency,
        "total": total,
        "items": [
            {"sku": sku, "name": name, "category": category, "quantity": qty, "unit_price": total // qty}
        ],
        "shipping_address": {
            "first_name": f"First{i}",
            "last_name": f"Last{i}",
            "line1": f"Street {i}",
            "city": city,
            "postal_code": f"{1000 + i}",
            "country_code": country,
        },
        "billing_address": None,
        "store_credit_used": store_credit_used,
    }


def prelude(seed: int = 7) -> list[dict[str, Any]]:
    """One first order per shopper, so that every shopper exists before the stream."""
    rng = random.Random(seed)
    return [
        envelope(
            "order.placed",
            _order(i, f"ord-p{i:02d}", BASE + timedelta(minutes=i), "EUR", rng.randint(2000, 9000), rng),
            id_=str(uuid.UUID(int=rng.getrandbits(128))),
        )
        for i in range(CUSTOMERS)
    ]


def stream(seed: int = 42, size: int = 120) -> list[dict[str, Any]]:
    """The seeded storefront stream (fixed event ids, so runs are comparable)."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    orders: list[tuple[int, str, str, int]] = []  # (shopper, order id, currency, total)
    credit_left = {i: FUNDING for i in range(FUNDED)}
    weights = [6 if i < 5 else 1 for i in range(CUSTOMERS)]  # a few repeat buyers
    settled: set[str] = set()  # refunded or cancelled
    for n in range(size):
        at = BASE + timedelta(days=1, minutes=n)
        kind = rng.random()
        if kind < 0.6 or len(orders) < 5:
            i = rng.choices(range(CUSTOMERS), weights)[0]
            currency = rng.choice(["EUR", "EUR", "EUR", "USD", "GBP"])
            total = rng.randint(1500, 25000)
            used = 0
            if i in credit_left and currency == "EUR" and rng.random() < 0.4:
                used = min(rng.randint(500, 1500), credit_left[i], total)
                credit_left[i] -= used
            oid = f"ord-{n:03d}"
            orders.append((i, oid, currency, total))
            data = _order(i, oid, at, currency, total, rng, used)
            type_ = "order.placed"
        elif kind < 0.72:
            i, oid, currency, total = rng.choice([o for o in orders if o[1] not in settled] or orders)
            settled.add(oid)
            type_, data = (
                "order.refunded",
                {
                    "order_id": oid,
                    "refunded_at": at.isoformat(),
                    "customer": {"email": email_of(i)},
                    "currency": currency,
                    "amount": rng.randint(100, total // 2),
                    "to_store_credit": rng.random() < 0.5,
                },
            )
        elif kind < 0.8:
            i, oid, _, _ = rng.choice([o for o in orders if o[1] not in settled] or orders)
            settled.add(oid)
            type_, data = (
                "order.cancelled",
                {"order_id": oid, "cancelled_at": at.isoformat(), "customer": {"email": email_of(i)}},
            )
        else:
            subscribe = rng.random() < 0.6
            who = email_of(rng.randrange(CUSTOMERS)) if rng.random() < 0.9 else f"reader{n}@example.com"
            type_ = "newsletter.subscribed" if subscribe else "newsletter.unsubscribed"
            data = {"email": who, "at": at.isoformat()}
        events.append(envelope(type_, data, id_=str(uuid.UUID(int=rng.getrandbits(128)))))
    return events


def shuffled_within(events: list[Any], window: int, seed: int = 3) -> list[Any]:
    rng = random.Random(seed)
    out: list[Any] = []
    for k in range(0, len(events), window):
        chunk = events[k : k + window]
        rng.shuffle(chunk)
        out.extend(chunk)
    return out


def infra_control(action: str) -> None:
    """rabbit_stop / rabbit_start / ferretdb_stop / ferretdb_start on the test infrastructure."""
    subprocess.run(
        ["bash", "-c", f"source infra/local.sh && load_secrets && {action}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
        timeout=180,
    )


def can_control_infra() -> bool:
    return bool(os.environ.get("CRM_TEST_RABBITMQCTL") and os.environ.get("CRM_DATA"))


class Listener(Broker):
    """A marketing system bound to crm.events with a durable queue of its own, so nothing it
    should receive is lost while the broker restarts; the storefront publish is retried."""

    queue_arguments: dict[str, Any] | None = None

    async def __aenter__(self) -> "Listener":
        self.connection = await aio_pika.connect_robust(self.url)
        self.channel = await self.connection.channel(publisher_confirms=True)
        self.exchange = await self.channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = self.queue = await self.channel.declare_queue(
            f"test.listener.{uuid.uuid4().hex[:8]}", durable=True, arguments=self.queue_arguments
        )
        await queue.bind(self.exchange, routing_key="#")
        self.consumer_tag = await queue.consume(self._on_message, no_ack=True)
        return self

    async def publish_retrying(
        self, env: dict[str, Any] | bytes, routing_key: str | None = None, timeout: float = 120
    ) -> None:
        """Publishes, retrying around a broker outage (a retry may duplicate: ids dedupe it)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                await asyncio.wait_for(self.publish(env, routing_key), 10)
                return
            except Exception:  # noqa: BLE001 - connection lost or channel closed: retry
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.5)

    async def queue_depths(self) -> dict[str, int]:
        channel = await self.connection.channel()  # type: ignore[union-attr]
        try:
            return {
                s: (await channel.declare_queue(f"{s}.events", passive=True)).declaration_result.message_count
                for s in SERVICES
            }
        finally:
            await channel.close()

    async def dead_letter_count(self, service: str) -> int:
        channel = await self.connection.channel()  # type: ignore[union-attr]
        try:
            q = await channel.declare_queue(f"{service}.dead-letter", passive=True)
            return q.declaration_result.message_count
        finally:
            await channel.close()


class QuorumListener(Listener):
    """On a RabbitMQ cluster: the listener's queue a quorum queue, with a member on every node,
    so it keeps receiving while any one node is down."""

    queue_arguments = {"x-queue-type": "quorum"}


Fault = Callable[["SystemRun"], Awaitable[None]]


@dataclass
class SystemRun:
    """One run of the whole system on a vhost and databases of its own."""

    system: System
    env: dict[str, str] = field(default_factory=dict)
    listener: Listener | None = None
    ids: dict[str, str] = field(default_factory=dict)  # e-mail -> customer id
    dead_letters_before: dict[str, int] = field(default_factory=dict)
    # Several processes per service (System.replica: replica i on RabbitMQ node i % nodes);
    # replica 0 is the one `http` and `restart` use.
    replicas: int = 1
    listener_url: str | None = None  # default: system.rabbit_url
    listener_class: type[Listener] = Listener

    async def __aenter__(self) -> "SystemRun":
        if self.replicas == 1:
            await asyncio.gather(*(asyncio.to_thread(self.system.service, s, **self.env) for s in SERVICES))
        else:
            await asyncio.gather(
                *(
                    asyncio.to_thread(self.system.replica, s, i, self.replicas, **self.env)
                    for s in SERVICES
                    for i in range(self.replicas)
                )
            )
        self.listener = await self.listener_class(self.listener_url or self.system.rabbit_url).__aenter__()
        self.dead_letters_before = {s: await self.listener.dead_letter_count(s) for s in SERVICES}
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.listener:
            try:
                await asyncio.wait_for(self.listener.queue.cancel(self.listener.consumer_tag), 10)
                await asyncio.wait_for(self.listener.queue.delete(if_unused=False, if_empty=False), 10)
            except Exception:  # noqa: BLE001 - cleanup only; the vhost goes too
                pass
            await self.listener.__aexit__()
        if self.replicas > 1:  # side by side, not one after the other
            await asyncio.gather(*(asyncio.to_thread(p.stop) for p in self.system.processes.values()))
        self.system.close()
        client: AsyncMongoClient = AsyncMongoClient(self.system.mongo_url)
        try:
            for s in SERVICES:
                await client.drop_database(self.system.database(s))
        except Exception:  # noqa: BLE001 - cleanup only
            pass
        await client.close()

    def http(self, service: str) -> httpx.AsyncClient:
        return self.system.processes[service].client()

    async def restart(self, service: str, sig: str = "KILL") -> None:
        proc = self.system.processes[service]
        await asyncio.to_thread(proc.kill if sig == "KILL" else proc.stop)
        await asyncio.to_thread(self.system.service, service, **self.env)

    async def kill_replica(self, service: str, index: int) -> None:
        """SIGKILL of replica `index` (not started again: see start_replica)."""
        key = service if index == 0 else f"{service}#{index}"
        await asyncio.to_thread(self.system.processes[key].kill)

    async def start_replica(self, service: str, index: int) -> None:
        await asyncio.to_thread(self.system.replica, service, index, self.replicas, **self.env)

    # -- setup through the HTTP APIs ------------------------------------------------------
    async def setup(self) -> None:
        assert self.listener
        async with self.http("segments") as seg:
            for name, rule in SEGMENTS.items():
                r = await seg.post("/v1/segments", json={"name": name, "rule": rule})
                assert r.status_code == 201, r.text
        for e in prelude():
            await self.listener.publish(e)
        self.ids = await eventually(self._all_customers, timeout=120, interval=1)
        async with self.http("groups") as groups:
            r = await groups.post("/v1/groups", json={"name": "VIP", "discount_percent": 10})
            assert r.status_code == 201, r.text
            gid = r.json()["id"]
            members = [self.ids[email_of(i)] for i in range(VIP)]

            async def add() -> bool:  # 422 until the groups service has seen them all
                r = await groups.post(f"/v1/groups/{gid}/customers", json={"add": members, "remove": []})
                return r.status_code == 200

            await eventually(add, timeout=120, interval=1)
        async with self.http("ledger") as ledger:
            for i in range(FUNDED):
                cid = self.ids[email_of(i)]
                r = await ledger.post(
                    f"/v1/accounts/{cid}/entries",
                    headers={"Idempotency-Key": f"fund-{i}"},
                    json={"kind": "funding", "amount": FUNDING, "currency": "EUR", "reason": "goodwill"},
                )
                assert r.status_code == 201, r.text

            async def known() -> bool:  # reward points granted = the ledger knows the e-mail
                for i in range(CUSTOMERS):
                    r = await ledger.get(f"/v1/customers/{self.ids[email_of(i)]}/rewards")
                    if r.status_code != 200 or not r.json()["earned_total"]:
                        return False
                return True

            await eventually(known, timeout=120, interval=1)

    async def _all_customers(self) -> dict[str, str] | None:
        found = {c["email"]: c["id"] for c in await self._customers()}
        return found if all(email_of(i) in found for i in range(CUSTOMERS)) else None

    async def _customers(self) -> list[dict[str, Any]]:
        async with self.http("customers") as http:
            return await _all_pages(http, "/v1/customers")

    # -- the stream -----------------------------------------------------------------------
    async def publish(
        self, events: list[Any], faults: dict[int, Fault] | None = None, pace: float = 0.05
    ) -> None:
        """Publishes `events` (envelopes, or (body bytes, routing key) pairs), running
        faults[k] before event k."""
        assert self.listener
        for k, e in enumerate(events):
            if faults and k in faults:
                await faults[k](self)
            if isinstance(e, tuple):
                await self.listener.publish_retrying(*e)
            else:
                await self.listener.publish_retrying(e)
            await asyncio.sleep(pace)

    async def quiet_snapshot(self, timeout: float = 240) -> dict[str, Any]:
        """Waits until the queues are empty and two snapshots some seconds apart are equal."""
        assert self.listener
        deadline = asyncio.get_running_loop().time() + timeout
        last = None
        while asyncio.get_running_loop().time() < deadline:
            if any((await self.listener.queue_depths()).values()):
                await asyncio.sleep(1)
                continue
            snap = await self.snapshot()
            if snap == last:
                return snap
            last = snap
            await asyncio.sleep(3)
        raise AssertionError("the system did not become quiet")

    async def snapshot_equal_to(self, reference: dict[str, Any], timeout: float = 240) -> dict[str, Any]:
        """Polls until the snapshot equals `reference`; returns the last one (so a test can
        show the difference)."""
        deadline = asyncio.get_running_loop().time() + timeout
        snap: dict[str, Any] = {}
        while asyncio.get_running_loop().time() < deadline:
            try:
                snap = await self.snapshot()
            except (httpx.HTTPError, AssertionError):
                await asyncio.sleep(2)
                continue
            if snap == reference:
                # Still equal a little later: nothing was about to change it.
                await asyncio.sleep(3)
                snap = await self.snapshot()
                if snap == reference:
                    return snap
            await asyncio.sleep(2)
        return snap

    async def snapshot(self) -> dict[str, Any]:
        customers = await self._customers()
        email = {c["id"]: c["email"] for c in customers}
        out: dict[str, Any] = {}
        async with self.http("groups") as http:
            groups = await _all_pages(http, "/v1/groups")
            gname = {g["id"]: g["name"] for g in groups}
            out["groups"] = {
                g["name"]: sorted(
                    email.get(m["customer_id"], m["customer_id"])
                    for m in await _all_pages(http, f"/v1/groups/{g['id']}/customers")
                )
                for g in groups
            }
        out["customers"] = {c["email"]: _customer(c, gname) for c in customers}
        ledger: dict[str, Any] = {}
        async with self.http("ledger") as http:
            for c in customers:
                acc = await _get(http, f"/v1/accounts/{c['id']}")
                entries = await _all_pages(http, f"/v1/accounts/{c['id']}/entries")
                rewards = await _get(http, f"/v1/customers/{c['id']}/rewards")
                coupons = await _all_pages(http, f"/v1/customers/{c['id']}/coupons")
                if not (acc["balances"] or entries or rewards["earned_total"]):
                    continue
                # Revoked coupons are the history of the order the events came in (a coupon
                # issued before a refund arrived, then revoked): what must agree is the rest.
                coupons = [cp for cp in coupons if cp["status"] != "revoked"]
                ledger[c["email"]] = {
                    "balances": sorted(
                        (b["currency"], b["balance"], b["available"]) for b in acc["balances"]
                    ),
                    "entries": sorted(
                        (e["currency"], e["kind"], e["amount"], e["order_id"] or "", e["reason"] or "")
                        for e in entries
                    ),
                    "rewards": (rewards["points"], rewards["earned_total"], len(coupons)),
                    "coupons": sorted(
                        json.dumps(
                            {k: v for k, v in cp.items() if k in ("kind", "value", "currency", "status")},
                            sort_keys=True,
                        )
                        for cp in coupons
                    ),
                }
        out["ledger"] = ledger
        async with self.http("segments") as http:
            segments = await _all_pages(http, "/v1/segments")
            out["segments"] = {
                s["name"]: sorted(
                    m["email"] or m["customer_id"]
                    for m in await _all_pages(http, f"/v1/segments/{s['id']}/members")
                )
                for s in segments
            }
        # Engagement: what it learnt of each customer (e-mail, consent now) and how many
        # customers a campaign to each segment would reach (its copy of the memberships).
        async with self.http("engagement") as http:
            contacts = {}
            for c in customers:
                r = await http.get(f"/v1/customers/{c['id']}/contact")
                contacts[c["email"]] = (
                    (r.json()["email"], r.json()["marketing_consent"])
                    if r.status_code == 200
                    else r.status_code
                )
            audiences = {}
            for seg in segments:
                r = await http.get(f"/v1/segment-audiences/{seg['id']}")
                audiences[seg["name"]] = r.json()["customers"] if r.status_code == 200 else r.status_code
            out["engagement"] = {"contacts": contacts, "audiences": audiences}
        out["listener"] = self.membership_events(email)
        return out

    def membership_events(self, email: dict[str, str]) -> dict[str, Any]:
        """Per (segment, customer): the members implied by the last joined/left seen by the
        listener, and whether joined and left alternated starting with joined (by event id:
        a redelivered copy is the same event)."""
        assert self.listener
        seen: set[str] = set()
        runs: dict[tuple[str, str], list[str]] = {}
        for m in self.listener.received:
            body = m["body"]
            if m["routing_key"] not in ("segment.member.joined", "segment.member.left") or body["id"] in seen:
                continue
            seen.add(body["id"])
            d = body["data"]
            key = (d["segment_name"], email.get(d["customer_id"], d["customer_id"]))
            runs.setdefault(key, []).append(m["routing_key"].rsplit(".", 1)[1])
        members: dict[str, list[str]] = {}
        broken = []
        for (seg, who), seq in sorted(runs.items()):
            if any(a == b for a, b in zip(seq, seq[1:], strict=False)) or seq[0] != "joined":
                broken.append(f"{seg}/{who}: {seq}")
            if seq[-1] == "joined":
                members.setdefault(seg, []).append(who)
        return {"members": {k: sorted(v) for k, v in members.items()}, "not_alternating": broken}


def _customer(c: dict[str, Any], gname: dict[str, str]) -> dict[str, Any]:
    """A customer without what legitimately differs between runs (ids, times of processing)."""
    drop = {"id", "version", "created_at", "updated_at", "registered_at", "group_ids", "addresses"}
    out = {k: v for k, v in c.items() if k not in drop}
    out["groups"] = sorted(gname.get(g, g) for g in c.get("group_ids", []))
    out["addresses"] = sorted(
        json.dumps({k: v for k, v in a.items() if k not in ("id", "created_at")}, sort_keys=True)
        for a in c.get("addresses", [])
    )
    return out


async def _get(http: httpx.AsyncClient, path: str) -> Any:
    r = await http.get(path)
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
    return r.json()


async def _all_pages(http: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100}
        if cursor:
            params["cursor"] = cursor
        r = await http.get(path, params=params)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        page = r.json()
        items.extend(page["items"])
        cursor = page.get("next_cursor")
        if not cursor:
            return items


def diff(a: dict[str, Any], b: dict[str, Any], path: str = "") -> list[str]:
    """Human-readable differences between two snapshots (for assertion messages)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b), key=str):
            if k not in a or k not in b:
                out.append(
                    f"{path}/{k}: {'missing' if k not in a else a[k]!r} != {'missing' if k not in b else b[k]!r}"
                )
            else:
                out.extend(diff(a[k], b[k], f"{path}/{k}"))
        return out
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]
