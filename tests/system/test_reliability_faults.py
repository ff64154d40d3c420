"""Issue 7, part A: the whole system (four services, RabbitMQ, the MongoDB-protocol server)
under a realistic storefront stream, with faults. Each test compares the final state of a
faulted run with a clean run of the same stream (`reference`, computed once per module, on a
vhost and databases of its own): customers and statistics, group memberships, ledger balances,
entries and rewards, segment memberships, and the joined/left events a listener received."""

import asyncio
import json
import os
import subprocess
import uuid
from typing import Any

import aio_pika
import httpx
import pytest
from conftest import System

from harness import ROOT, Broker, envelope, eventually, order_placed
from system_stream import (
    SERVICES,
    SystemRun,
    can_control_infra,
    diff,
    infra_control,
    shuffled_within,
    stream,
)

LOGS = ROOT / ".data" / "test-logs"
needs_infra_control = pytest.mark.skipif(
    not can_control_infra(),
    reason="stops the broker or database: only with ./crm test's local infrastructure",
)


def new_system(infra: dict[str, str], name: str) -> System:
    LOGS.mkdir(parents=True, exist_ok=True)
    return System(infra, f"faults-{name}-{uuid.uuid4().hex[:6]}", LOGS)


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return stream()


@pytest.fixture(scope="module")
def reference(infra, events) -> dict[str, Any]:
    """The final state of the stream without faults."""

    async def clean() -> dict[str, Any]:
        async with SystemRun(new_system(infra, "clean")) as run:
            await run.setup()
            await run.publish(events)
            snap = await run.quiet_snapshot()
            await assert_no_dead_letters(run)
            return snap

    snap = asyncio.run(clean())
    assert snap["listener"]["not_alternating"] == []
    assert snap["listener"]["members"] == {k: v for k, v in snap["segments"].items() if v}
    assert all(snap["segments"].values()), "every segment has members in the clean run"
    return snap


async def assert_no_dead_letters(run: SystemRun) -> None:
    """No new dead letter (without a vhost of its own, other modules' may be there already)."""
    assert run.listener
    counts = {s: await run.listener.dead_letter_count(s) for s in SERVICES}
    assert counts == run.dead_letters_before, counts


async def assert_same_final_state(run: SystemRun, reference: dict[str, Any]) -> None:
    snap = await run.snapshot_equal_to(reference)
    assert snap == reference, "\n".join(diff(snap, reference)[:40])
    await assert_no_dead_letters(run)


def restart(service: str, sig: str):
    async def fault(run: SystemRun) -> None:
        await run.restart(service, sig)

    return fault


async def test_each_service_killed_mid_stream_and_restarted_loses_nothing(infra, events, reference):
    """SIGKILL: whatever a service was doing is cut off; the broker redelivers the
    unacknowledged messages and the outbox publishes what was stored but not yet sent. The
    customers service runs without its relay until it is killed, so the changes it stored
    meanwhile (customer.updated for the other services) exist only in its outbox then."""

    async def relay_off(run: SystemRun) -> None:
        proc = run.system.processes["customers"]
        await asyncio.to_thread(proc.stop)
        await asyncio.to_thread(run.system.service, "customers", **run.env, CRM_OUTBOX_RELAY="false")

    async with SystemRun(new_system(infra, "kill")) as run:
        await run.setup()
        step = len(events) // (len(SERVICES) + 1)
        faults = {step * (k + 1): restart(s, "KILL") for k, s in enumerate(SERVICES)}
        await run.publish(events, {0: relay_off, **faults})
        await assert_same_final_state(run, reference)


async def test_each_service_stopped_with_sigterm_mid_stream_loses_nothing(infra, events, reference):
    """Graceful shutdown: in-flight messages finish (or go back to the queue), the outbox is
    drained; after the restart the final state is the clean run's."""
    async with SystemRun(new_system(infra, "term")) as run:
        await run.setup()
        step = len(events) // (len(SERVICES) + 1)
        await run.publish(events, {step * (k + 1) + 3: restart(s, "TERM") for k, s in enumerate(SERVICES)})
        await assert_same_final_state(run, reference)


async def test_every_event_twice_and_shuffled_within_ten_changes_nothing(infra, events, reference):
    """Duplicates (same event id) are processed once; no service assumes the storefront's order."""
    doubled = [e for e in events for _ in (0, 1)]
    async with SystemRun(new_system(infra, "dup")) as run:
        await run.setup()
        await run.publish(shuffled_within(doubled, 10), pace=0.02)
        await assert_same_final_state(run, reference)


@needs_infra_control
async def test_broker_restart_mid_stream_consumers_and_publishing_come_back(infra, events, reference):
    """RabbitMQ stopped and started: /readyz says 503 meanwhile; afterwards every service
    consumes and publishes again by itself (nothing restarted but the broker)."""
    not_ready: dict[str, int] = {}

    async def outage(run: SystemRun) -> None:
        await asyncio.to_thread(infra_control, "rabbit_stop")
        try:
            async with httpx.AsyncClient(timeout=10) as http:
                for s in SERVICES:
                    r = await http.get(f"{run.system.processes[s].url}/readyz")
                    not_ready[s] = r.status_code
                    assert r.json()["checks"]["broker"] != "ok"
        finally:
            await asyncio.to_thread(infra_control, "rabbit_start")

    async with SystemRun(new_system(infra, "rabbit")) as run:
        await run.setup()
        await run.publish(events, {len(events) // 2: outage})
        assert not_ready == {s: 503 for s in SERVICES}
        await assert_same_final_state(run, reference)
        async with httpx.AsyncClient(timeout=10) as http:
            for s in SERVICES:
                assert (await http.get(f"{run.system.processes[s].url}/readyz")).status_code == 200


@needs_infra_control
async def test_database_outage_mid_stream_is_retried_not_dead_lettered(infra, events, reference):
    """FerretDB stopped for some seconds: handlers fail, messages are retried with a pause,
    none dropped or dead-lettered; /readyz reports the database."""
    not_ready: dict[str, Any] = {}

    async def outage(run: SystemRun) -> None:
        await asyncio.to_thread(infra_control, "ferretdb_stop")
        try:
            # Right away: another `./crm test` on this machine may start FerretDB again.
            async with httpx.AsyncClient(timeout=10) as http:
                for s in SERVICES:
                    r = await http.get(f"{run.system.processes[s].url}/readyz")
                    not_ready[s] = (r.status_code, r.json()["checks"]["database"] != "ok")
            await asyncio.sleep(6)
        finally:
            await asyncio.to_thread(infra_control, "ferretdb_start")

    async with SystemRun(new_system(infra, "ferret")) as run:
        await run.setup()
        await run.publish(events, {len(events) // 2: outage})
        assert not_ready == {s: (503, True) for s in SERVICES}
        await assert_same_final_state(run, reference)


async def test_poison_messages_are_dead_lettered_with_reasons_and_the_stream_goes_on(
    infra, events, reference
):
    """Malformed JSON, a wrong payload and an oversized body land in the dead-letter queue of
    every service that consumes `order.placed` (customers and ledger), each with its reason;
    an unknown event type is bound to no service queue, and published straight into a queue it
    is acknowledged and ignored. The rest of the stream ends as in the clean run."""
    limit = 20000
    bad_json = b'{"specversion": "1.0", "id": '
    wrong = envelope("order.placed", {"order_id": "ord-x", "total": "lots"})
    huge = envelope(
        "order.placed",
        order_placed(
            "huge@example.com",
            "ord-huge",
            items=[
                {"sku": f"SKU-{n}", "name": "x" * 200, "category": "bulk", "quantity": 1, "unit_price": 1}
                for n in range(100)
            ],
        ),
    )
    unknown = envelope("order.shipped", {"order_id": "ord-001"})
    poison = [(bad_json, "order.placed"), wrong, huge, unknown]
    mixed = list(events)
    for k, p in enumerate(poison):
        mixed.insert(20 + 25 * k, p)
    async with SystemRun(new_system(infra, "poison"), env={"CRM_MAX_MESSAGE_BYTES": str(limit)}) as run:
        await run.setup()
        await run.publish(mixed)
        # Straight into a service queue (by-passing bindings): ignored, not dead-lettered.
        await run.listener.channel.default_exchange.publish(
            aio_pika.Message(json.dumps(unknown).encode(), message_id=unknown["id"]),
            routing_key="customers.events",
        )
        snap = await run.snapshot_equal_to(reference)
        assert snap == reference, "\n".join(diff(snap, reference)[:40])
        log = run.system.processes["customers"].log_path
        ignored = [json.loads(line) for line in log.read_text().splitlines() if "order.shipped" in line]
        assert [(r["message"], r["event_id"]) for r in ignored] == [
            ("ignoring event type order.shipped", unknown["id"])
        ]
        for service in ("customers", "ledger", "segments"):  # each consumer of order.placed
            dead = [
                d
                for d in await dead_letters(run.system.rabbit_url, service)
                if d["message_id"] in (wrong["id"], huge["id"]) or d["body"] == bad_json.decode()
            ]
            reasons = {d["message_id"]: d["reason"] for d in dead}
            assert len(dead) == 3, dead
            assert (
                reasons[wrong["id"]].startswith("invalid data for order.placed")
                and "total" in reasons[wrong["id"]]
            )
            assert reasons[huge["id"]] == f"body of {len(json.dumps(huge).encode())} bytes exceeds {limit}"
            (malformed,) = [d for d in dead if d["message_id"] not in (wrong["id"], huge["id"])]
            assert (
                malformed["reason"].startswith("malformed JSON")
                and malformed["routing_key"] == "order.placed"
            )
        assert await run.listener.dead_letter_count("groups") == run.dead_letters_before["groups"]


def crm_dead_letters(url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ROOT / ".venv" / "bin" / "crm-dead-letters"), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "RABBITMQ_URL": url},
        check=True,
    )


async def dead_letters(url: str, service: str) -> list[dict[str, Any]]:
    out = await asyncio.to_thread(crm_dead_letters, url, "list", service)
    return [json.loads(line) for line in out.stdout.splitlines()]


async def test_operator_replays_a_dead_letter_after_the_fix(system, broker: Broker):
    """The ledger dead-letters an order paying with store credit for a customer it does not
    know (customers was down). Once the customer exists and has credit, the operator lists the
    dead letter with its reason and replays it: the purchase is booked; others stay put."""
    ledger = system.service("ledger", CRM_LEDGER_UNKNOWN_CUSTOMER_GRACE_SECONDS="0.5", CRM_DELIVERY_LIMIT="3")
    system.service("customers")  # declares its queue, then is down while the orders come
    await asyncio.to_thread(system.processes["customers"].stop)
    email = f"late.{uuid.uuid4().hex[:6]}@example.com"
    order = envelope("order.placed", order_placed(email, "ord-late", store_credit_used=700))
    other = envelope("order.placed", order_placed(f"x.{email}", "ord-other", store_credit_used=100))
    await broker.publish(order)
    await broker.publish(other)
    listed = await eventually(lambda: _listed(system.rabbit_url, {order["id"], other["id"]}), timeout=30)
    assert all("unknown customer where one is required" in d["reason"] for d in listed.values()), listed
    assert listed[order["id"]]["routing_key"] == "order.placed"

    await asyncio.to_thread(system.service, "customers")  # the fix: the customer becomes known
    created = await broker.wait_for("customer.created", lambda b: b["data"]["email"] == email, timeout=60)
    cid = created[0]["body"]["data"]["id"]
    async with ledger.client() as http:
        r = await http.post(
            f"/v1/accounts/{cid}/entries",
            json={"kind": "funding", "amount": 1000, "currency": "EUR", "reason": "apology"},
        )
        assert r.status_code == 201, r.text

        async def booked() -> Any:
            r = await http.get(f"/v1/accounts/{cid}")
            bal = r.json()["balances"]
            return bal if bal and bal[0]["balance"] == 300 else None

        async def replayed_and_booked() -> Any:
            # Replaying again is harmless: if the ledger had not yet learnt the customer from
            # customer.created, the replayed copy was dead-lettered once more.
            await asyncio.to_thread(crm_dead_letters, system.rabbit_url, "replay", "ledger", order["id"])
            try:
                return await eventually(booked, timeout=5)
            except AssertionError:
                return None

        await eventually(replayed_and_booked, timeout=60)
        entries = (await http.get(f"/v1/accounts/{cid}/entries")).json()["items"]
        assert [(e["kind"], e["amount"], e["order_id"]) for e in entries][0] == ("purchase", -700, "ord-late")
    left = {d["message_id"] for d in await dead_letters(system.rabbit_url, "ledger")}
    assert other["id"] in left and order["id"] not in left


async def _listed(url: str, ids: set[str]) -> dict[str, Any] | None:
    found = {d["message_id"]: d for d in await dead_letters(url, "ledger")}
    return found if ids <= set(found) else None
