"""Fixtures: real infrastructure (URLs from the environment, testcontainers where a Docker
engine answers, or the local RabbitMQ + FerretDB that `./crm test` started) and the services
running as real processes. Each test module gets its own RabbitMQ vhost and databases."""

import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote, urlsplit, urlunsplit

import pytest
from pymongo import AsyncMongoClient

from harness import ROOT, TOKEN, Broker, ServiceProcess

_known_failures: list[tuple[str, str]] = []


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keeps why a test marked as a known failure (xfail) failed: pytest shows only the mark's
    reason, and an intermittent failure needs what went wrong this time."""
    outcome = yield
    report = outcome.get_result()
    if getattr(report, "wasxfail", None) is not None and report.skipped and call.excinfo is not None:
        _known_failures.append((item.nodeid, call.excinfo.exconly()[:4000]))


def pytest_terminal_summary(terminalreporter):
    if _known_failures:
        terminalreporter.section("known failures (xfail): what failed this time")
        for nodeid, text in _known_failures:
            terminalreporter.write_line(f"{nodeid}\n{text}\n")


@pytest.fixture(scope="session")
def infra() -> Iterator[dict[str, str]]:
    if os.environ.get("CRM_TESTCONTAINERS"):
        from testcontainers.mongodb import MongoDbContainer
        from testcontainers.rabbitmq import RabbitMqContainer

        with MongoDbContainer("mongo:7") as mongo, RabbitMqContainer("rabbitmq:3.13-management") as rabbit:
            p = rabbit.get_connection_params()
            yield {
                "mongodb": mongo.get_connection_url(),
                "rabbitmq": f"amqp://{p.credentials.username}:{p.credentials.password}@{p.host}:{p.port}/",
            }
        return
    mongodb, rabbitmq = os.environ.get("MONGODB_URL"), os.environ.get("RABBITMQ_URL")
    if not (mongodb and rabbitmq):
        pytest.exit("MONGODB_URL and RABBITMQ_URL are not set: run the tests with ./crm test", returncode=2)
    yield {"mongodb": mongodb, "rabbitmq": rabbitmq}


class System:
    """The services of one test module, on a vhost and databases of its own."""

    def __init__(
        self,
        infra: dict[str, str],
        tag: str,
        logs: Path,
        *,
        rabbit_urls: list[str] | None = None,
        rabbitmqctl: list[str] | None = None,
    ) -> None:
        """`rabbit_urls` (one per node of a RabbitMQ cluster, first = infra["rabbitmq"]) and
        `rabbitmqctl` (the command that reaches that cluster) are for tests on a cluster of
        their own (tests/system/test_cluster_faults.py); by default the test infrastructure's."""
        self.tag = tag
        self.mongo_url = infra["mongodb"]
        self.rabbit_url = infra["rabbitmq"]
        self.rabbit_urls = list(rabbit_urls or [self.rabbit_url])
        self.logs = logs
        self.vhost: str | None = None
        self.processes: dict[str, ServiceProcess] = {}
        ctl = os.environ.get("CRM_TEST_RABBITMQCTL")
        self._ctl = rabbitmqctl or ([ctl] if ctl else None)
        if self._ctl:  # a vhost of our own: no queue of another module is shared
            self.vhost = f"test-{tag}"
            user = urlsplit(self.rabbit_url).username or ""
            subprocess.run([*self._ctl, "-q", "add_vhost", self.vhost], check=True, capture_output=True)
            subprocess.run(
                [*self._ctl, "-q", "set_permissions", "-p", self.vhost, user, ".*", ".*", ".*"],
                check=True,
                capture_output=True,
            )
            path = "/" + quote(self.vhost, safe="")
            self.rabbit_url = urlunsplit(urlsplit(self.rabbit_url)._replace(path=path))
            self.rabbit_urls = [urlunsplit(urlsplit(u)._replace(path=path)) for u in self.rabbit_urls]

    def database(self, service: str) -> str:
        return f"t_{self.tag}_{service}"

    def _env(self, name: str, rabbit_url: str) -> dict[str, str]:
        return {
            "MONGODB_URL": self.mongo_url,
            "MONGODB_DATABASE": self.database(name),
            "RABBITMQ_URL": rabbit_url,
            "CRM_API_TOKENS": TOKEN,
            "CRM_OUTBOX_POLL_SECONDS": "0.2",
            "CRM_LOG_LEVEL": "INFO",
        }

    def service(self, name: str, **env: str) -> ServiceProcess:
        """Starts (or returns the running) service `name`."""
        proc = self.processes.get(name)
        if proc and proc.proc and proc.proc.poll() is None:
            return proc
        proc = proc or ServiceProcess(
            name, self._env(name, self.rabbit_url), self.logs / f"{self.tag}-{name}.log"
        )
        self.processes[name] = proc
        return proc.start(**env)

    def replica(self, name: str, index: int, replicas: int, **env: str) -> ServiceProcess:
        """Starts (or returns the running) replica `index` of `replicas` of service `name`:
        replica 0 is `processes[name]`, the others `processes["name#i"]`, each on an HTTP port
        of its own, on node i % nodes of `rabbit_urls`, with CRM_REPLICA_INDEX/CRM_REPLICAS as
        `./crm up --replicas` sets them."""
        key = name if index == 0 else f"{name}#{index}"
        proc = self.processes.get(key)
        if proc and proc.proc and proc.proc.poll() is None:
            return proc
        proc = proc or ServiceProcess(
            name,
            {
                **self._env(name, self.rabbit_urls[index % len(self.rabbit_urls)]),
                "CRM_REPLICA_INDEX": str(index),
                "CRM_REPLICAS": str(replicas),
            },
            self.logs / f"{self.tag}-{name}{'' if index == 0 else f'-{index}'}.log",
        )
        self.processes[key] = proc
        return proc.start(**env)

    def close(self) -> None:
        for proc in self.processes.values():
            proc.stop()
        if self._ctl and self.vhost:
            subprocess.run([*self._ctl, "-q", "delete_vhost", self.vhost], capture_output=True)


@pytest.fixture(scope="module")
def system(infra: dict[str, str], request: pytest.FixtureRequest) -> Iterator[System]:
    logs = ROOT / ".data" / "test-logs"
    logs.mkdir(parents=True, exist_ok=True)
    tag = f"{Path(str(request.fspath)).stem.removeprefix('test_')}-{uuid.uuid4().hex[:6]}"
    s = System(infra, tag, logs)
    yield s
    s.close()


@pytest.fixture
async def broker(system: System) -> AsyncIterator[Broker]:
    async with Broker(system.rabbit_url) as b:
        yield b


@pytest.fixture
async def mongo(system: System) -> AsyncIterator[AsyncMongoClient]:
    client: AsyncMongoClient = AsyncMongoClient(system.mongo_url, tz_aware=True)
    yield client
    await client.close()


@pytest.fixture(scope="session")
def token() -> str:
    return TOKEN
