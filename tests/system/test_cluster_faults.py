"""Issue 19: the whole-system fault suite on a three-node RabbitMQ cluster with several replicas
of every service (REPLICAS, 3 by default; replica i connects to node i % 3). Faults: replicas
killed at random (SIGKILL) while the stream flows and started again, one broker node stopped
and brought back during the stream, every event published twice and shuffled. Each run must end
in the final state of a fault-free run with ONE process per service on the single test node
(`reference`): no lost event, no double effect, joined/left alternating per pair, no dead
letter. The cluster is this module's own (infra/local.sh rabbit_cluster_*, ports
CRM_TEST_CLUSTER_PORT..+2 and CRM_TEST_CLUSTER_DIST_PORT..+2), started here, deleted at the end."""

import asyncio
import json
import os
import random
import subprocess
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import System

from harness import ROOT
from system_stream import (
    SERVICES,
    QuorumListener,
    SystemRun,
    can_control_infra,
    diff,
    shuffled_within,
    stream,
)

pytestmark = pytest.mark.skipif(
    not can_control_infra(),
    reason="starts a RabbitMQ cluster of its own: only with ./crm test's local infrastructure",
)

LOGS = ROOT / ".data" / "test-logs"
REPLICAS = int(os.environ.get("CRM_TEST_CLUSTER_REPLICAS", "3"))
NODES = 3
LISTENER_NODE = NODES - 1  # the storefront and the listener: never the node that is stopped


@dataclass
class Cluster:
    urls: list[str]  # one AMQP URL per node
    env: dict[str, str]
    ctl: list[str]  # rabbitmqctl against node 1, with the cluster's cookie

    def control(self, action: str) -> None:
        """An infra/local.sh rabbit_cluster_* function, e.g. `rabbit_cluster_node_stop 2`."""
        subprocess.run(
            ["bash", "-c", f"source infra/local.sh && {action}"],
            cwd=ROOT,
            env={**os.environ, **self.env},
            check=True,
            capture_output=True,
            timeout=300,
        )

    def leaders(self, vhost: str) -> dict[str, str]:
        """Queue -> the node of its quorum leader (nothing if the broker does not say in time)."""
        try:
            out = subprocess.run(
                [
                    *self.ctl,
                    "-q",
                    "-t",
                    "20",
                    "list_queues",
                    "-p",
                    vhost,
                    "name",
                    "leader",
                    "--formatter",
                    "json",
                ],
                check=True,
                capture_output=True,
                text=True,
                timeout=40,
            ).stdout
            return {q["name"]: q.get("leader") or "" for q in json.loads(out)}
        except (subprocess.SubprocessError, ValueError):
            return {}


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    data = os.environ["CRM_DATA"]
    env = {
        "RABBIT_CLUSTER_NAME": os.environ.get("CRM_TEST_CLUSTER_NAME", "crm-test-c"),
        "RABBIT_CLUSTER_PORT": os.environ.get("CRM_TEST_CLUSTER_PORT", "5680"),
        "RABBIT_CLUSTER_DIST_PORT": os.environ.get("CRM_TEST_CLUSTER_DIST_PORT", "25680"),
        "RABBIT_CLUSTER_DIR": str(Path(data) / "rabbitmq-cluster-test"),
    }
    cmd = "source infra/local.sh && rabbit_cluster_start >&2 && rabbit_cluster_urls"
    try:
        started = subprocess.run(
            ["bash", "-c", cmd],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert started.returncode == 0, started.stderr
        node1 = f"{env['RABBIT_CLUSTER_NAME']}1@localhost"
        ctl = ["env", f"HOME={env['RABBIT_CLUSTER_DIR']}", "/usr/lib/rabbitmq/bin/rabbitmqctl", "-n", node1]
        yield Cluster(started.stdout.split(), env, ctl)
    finally:
        # The nodes' logs outlive the cluster, beside the services' (.data/test-logs).
        LOGS.mkdir(parents=True, exist_ok=True)
        for log in Path(env["RABBIT_CLUSTER_DIR"]).glob("*/log/*.log"):
            (LOGS / f"cluster-{log.parent.parent.name}-{log.name}").write_bytes(log.read_bytes())
        subprocess.run(
            ["bash", "-c", "source infra/local.sh && rabbit_cluster_delete"],
            cwd=ROOT,
            env={**os.environ, **env},
            capture_output=True,
            timeout=180,
        )


def cluster_system(infra: dict[str, str], cluster: Cluster, name: str) -> System:
    LOGS.mkdir(parents=True, exist_ok=True)
    return System(
        {"mongodb": infra["mongodb"], "rabbitmq": cluster.urls[0]},
        f"cluster-{name}-{uuid.uuid4().hex[:6]}",
        LOGS,
        rabbit_urls=cluster.urls,
        rabbitmqctl=cluster.ctl,
    )


def cluster_run(infra: dict[str, str], cluster: Cluster, name: str) -> SystemRun:
    system = cluster_system(infra, cluster, name)
    return SystemRun(
        system,
        replicas=REPLICAS,
        listener_url=system.rabbit_urls[LISTENER_NODE],
        listener_class=QuorumListener,
    )


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return stream()


@pytest.fixture(scope="module")
def reference(infra, events) -> dict[str, Any]:
    """The final state of the stream without faults: one process per service, the single node."""

    async def clean() -> dict[str, Any]:
        LOGS.mkdir(parents=True, exist_ok=True)
        async with SystemRun(System(infra, f"cluster-clean-{uuid.uuid4().hex[:6]}", LOGS)) as run:
            await run.setup()
            await run.publish(events)
            snap = await run.quiet_snapshot()
            await assert_no_dead_letters(run)
            return snap

    snap = asyncio.run(clean())
    assert snap["listener"]["not_alternating"] == []
    assert all(snap["segments"].values()), "every segment has members in the clean run"
    return snap


async def assert_no_dead_letters(run: SystemRun) -> None:
    assert run.listener
    counts = {s: await run.listener.dead_letter_count(s) for s in SERVICES}
    assert counts == run.dead_letters_before, counts


def double_publications(received: list[dict[str, Any]]) -> list[str]:
    """Changes made twice, as the listener sees them: one event id with two different bodies,
    or one customer version published under two event ids (a change applied twice)."""
    bodies: dict[str, str] = {}
    versions: dict[tuple[str, int], set[str]] = defaultdict(set)
    out = []
    for m in received:
        body = m["body"]
        text = json.dumps(body, sort_keys=True)
        if bodies.setdefault(body["id"], text) != text:
            out.append(f"event {body['id']} published with two bodies")
        data = body.get("data") or {}
        if m["routing_key"] in ("customer.created", "customer.updated") and "version" in data:
            versions[(data["id"], data["version"])].add(body["id"])
    out += [
        f"customer {cid} version {v}: {sorted(ids)}" for (cid, v), ids in versions.items() if len(ids) > 1
    ]
    return out


async def assert_same_final_state(run: SystemRun, reference: dict[str, Any]) -> None:
    snap = await run.snapshot_equal_to(reference)
    assert snap == reference, "\n".join(diff(snap, reference)[:40])
    assert snap["listener"]["not_alternating"] == []
    assert run.listener
    assert double_publications(run.listener.received) == []
    await assert_no_dead_letters(run)
    async with httpx.AsyncClient(timeout=10) as http:  # every replica is back and consuming
        for key, proc in run.system.processes.items():
            assert proc.proc and proc.proc.poll() is None, key
            assert (await http.get(f"{proc.url}/readyz")).status_code == 200, key


async def consumed_by_replica(run: SystemRun) -> dict[str, list[int]]:
    """Per service, the events each replica consumed since it last started (its /metrics)."""
    out: dict[str, list[int]] = {}
    for s in SERVICES:
        out[s] = []
        for i in range(REPLICAS):
            async with run.system.processes[s if i == 0 else f"{s}#{i}"].client() as http:
                text = (await http.get("/metrics")).text
            out[s].append(
                int(
                    sum(
                        float(line.rsplit(" ", 1)[1])
                        for line in text.splitlines()
                        if line.startswith("crm_events_consumed_total{")
                    )
                )
            )
    return out


def assert_replicas_shared_the_work(consumed: dict[str, list[int]], killed: list[tuple[str, int]]) -> None:
    """Every replica that ran the whole time consumed some of the events (competing consumers
    on one queue); with event partitions (CRM_PARTITIONS) a replica may own none: then at least
    one per service."""
    for s, counts in consumed.items():
        if os.environ.get("CRM_PARTITIONS"):
            assert any(counts), (s, counts)
        else:
            assert all(n > 0 for i, n in enumerate(counts) if (s, i) not in killed), (s, counts)


class Chaos:
    """Faults while the stream flows: replicas SIGKILLed and started again a moment later (in
    the background: the stream goes on), and one node stopped and started again."""

    def __init__(self, run: SystemRun, cluster: Cluster, seed: int) -> None:
        self.run, self.cluster, self.rng = run, cluster, random.Random(seed)
        self.node_up = [asyncio.Event() for _ in range(NODES)]
        for e in self.node_up:
            e.set()
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False  # after a failure: start nothing again (it would outlive the run)
        self.killed: list[tuple[str, int]] = []
        self.down: set[tuple[str, int]] = set()  # killed, not yet started again
        self.stopped: list[tuple[str, dict[str, str]]] = []

    def kill(self) -> Any:
        async def fault(run: SystemRun) -> None:
            up = [
                (s, i)
                for s in SERVICES
                for i in range(REPLICAS)
                if self.node_up[i % NODES].is_set() and (s, i) not in self.down
            ]
            service, index = self.rng.choice(up)
            self.killed.append((service, index))
            self.down.add((service, index))
            await run.kill_replica(service, index)
            self.tasks.append(
                asyncio.create_task(self._start_again(service, index, self.rng.uniform(0.5, 3)))
            )

        return fault

    async def _start_again(self, service: str, index: int, pause: float) -> None:
        await asyncio.sleep(pause)
        for attempt in range(5):
            await self.node_up[index % NODES].wait()  # its node must be up for it to be ready
            if self.closed:
                return
            try:
                await self.run.start_replica(service, index)
                break
            except RuntimeError:  # its node went down while it started: once it is back
                if attempt == 4:
                    raise
                await asyncio.sleep(1)
        self.down.discard((service, index))

    def node_outage(self, down_for: float = 5) -> Any:
        async def fault(run: SystemRun) -> None:
            self.tasks.append(asyncio.create_task(self._outage(run, down_for)))

        return fault

    async def _outage(self, run: SystemRun, down_for: float) -> None:
        # The node leading the most service queues (not the listener's): their leaders move.
        assert run.system.vhost
        leaders = await asyncio.to_thread(self.cluster.leaders, run.system.vhost)
        counts = {n: 0 for n in range(NODES) if n != LISTENER_NODE}
        for queue, node in leaders.items():
            for n in counts:
                if queue.endswith(".events") and node.startswith(
                    f"{self.cluster.env['RABBIT_CLUSTER_NAME']}{n + 1}@"
                ):
                    counts[n] += 1
        node = max(counts, key=lambda n: (counts[n], -n))
        led = sorted(
            q
            for q, n in leaders.items()
            if n.startswith(f"{self.cluster.env['RABBIT_CLUSTER_NAME']}{node + 1}@")
        )
        self.node_up[node].clear()
        t0 = time.monotonic()
        await asyncio.to_thread(self.cluster.control, f"rabbit_cluster_node_stop {node + 1}")
        t1 = time.monotonic()
        await asyncio.sleep(down_for)
        await asyncio.to_thread(self.cluster.control, f"rabbit_cluster_node_start {node + 1}")
        self.stopped.append(
            (
                f"node {node + 1}, leader of {led}; stopped in {t1 - t0:.1f} s, started in {time.monotonic() - t1 - down_for:.1f} s",
                leaders,
            )
        )
        self.node_up[node].set()

    async def close(self) -> None:
        """However the test ended: no replica is started again, what is under way finishes
        before the run stops its processes."""
        self.closed = True
        for up in self.node_up:
            up.set()
        await asyncio.wait_for(asyncio.gather(*self.tasks, return_exceptions=True), 180)

    async def settle(self) -> None:
        while self.tasks:  # a task may add none, but await them all, newest included
            task = self.tasks.pop(0)
            await task


@pytest.mark.xfail(
    strict=False,
    reason="known intermittent failure, issue 19 open: one segment member was missing after replicas were "
    "killed and a broker node stopped, in clean-clone runs before the 2026-12-03 fix of segments' "
    "redelivered re-check; kept marked until more runs confirm it (docs/scaling.md)",
)
async def test_replicas_killed_at_random_and_a_broker_node_stopped_lose_nothing(
    infra, cluster: Cluster, events, reference
):
    """Three replicas of each service on three nodes; seven SIGKILLs of random replicas while
    the stream flows, and the node leading the most service queues stopped for some seconds in
    the middle of it: the survivors and the other nodes go on, the killed replicas and the
    stopped node's clients come back by themselves."""
    async with cluster_run(infra, cluster, "kill") as run:
        await run.setup()
        chaos = Chaos(run, cluster, seed=19)
        faults = {k: chaos.kill() for k in (8, 20, 44, 58, 72, 90, 104)}
        faults[30] = chaos.node_outage()
        try:
            await run.publish(events, faults, pace=0.1)
            await chaos.settle()
        finally:
            await chaos.close()
        assert len(chaos.killed) == 7 and len(chaos.stopped) == 1, (chaos.killed, chaos.stopped)
        try:
            await assert_same_final_state(run, reference)
        except AssertionError as e:  # the faults of this run belong with what they broke
            raise AssertionError(f"{e}\nkilled {chaos.killed}; stopped {chaos.stopped}") from None
        consumed = await consumed_by_replica(run)
        print(f"\nkilled {chaos.killed}; stopped {chaos.stopped[0][0]}; consumed {consumed}")
        assert_replicas_shared_the_work(consumed, chaos.killed)


async def test_every_event_twice_shuffled_with_replicas_killed_changes_nothing(
    infra, cluster: Cluster, events, reference
):
    """Duplicates (same event id), shuffled within ten, handled by three replicas per service
    that may each get a copy, while replicas are killed: each event counts once."""
    doubled = shuffled_within([e for e in events for _ in (0, 1)], 10)
    async with cluster_run(infra, cluster, "dup") as run:
        await run.setup()
        chaos = Chaos(run, cluster, seed=7)
        try:
            await run.publish(doubled, {k: chaos.kill() for k in (30, 90, 150, 210)}, pace=0.03)
            await chaos.settle()
        finally:
            await chaos.close()
        await assert_same_final_state(run, reference)
        consumed = await consumed_by_replica(run)
        print(f"\nkilled {chaos.killed}; consumed {consumed}")
        assert_replicas_shared_the_work(consumed, chaos.killed)
