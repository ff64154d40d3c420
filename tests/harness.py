"""Test harness: the real services as subprocesses, a storefront that publishes with plain
aio-pika (not project code), and a listener bound to crm.events. No mocks."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aio_pika
import httpx
from crm_api_client import AuthenticatedClient

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "test-token-" + uuid.uuid4().hex
EXCHANGE = "crm.events"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def envelope(
    type_: str, data: dict[str, Any], *, id_: str | None = None, source: str = "/storefronts/test"
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": id_ or str(uuid.uuid4()),
        "source": source,
        "type": type_,
        "time": datetime.now(UTC).isoformat(),
        "datacontenttype": "application/json",
        "data": data,
    }


def order_placed(
    email: str = "ana@example.com", order_id: str | None = None, **changes: Any
) -> dict[str, Any]:
    """`data` of an order.placed as docs/contract.md §1.1 shows it."""
    return {
        "order_id": order_id or f"ord_{uuid.uuid4().hex[:8]}",
        "placed_at": "2026-11-22T10:00:00Z",
        "customer": {
            "email": email,
            "customer_id": None,
            "first_name": "Ana",
            "last_name": "Lima",
            "phone": "+351912345678",
        },
        "currency": "EUR",
        "total": 12999,
        "items": [{"sku": "SKU-1", "name": "Runner", "category": "shoes", "quantity": 2, "unit_price": 4999}],
        "shipping_address": {
            "first_name": "Ana",
            "last_name": "Lima",
            "line1": "Rua A 1",
            "city": "Lisboa",
            "postal_code": "1000-001",
            "country_code": "PT",
        },
        "billing_address": None,
        "store_credit_used": 0,
        **changes,
    }


def customer_state(customer_id: str, email: str | None = None, version: int = 1) -> dict[str, Any]:
    """`data` of a customer.created as the customers service publishes it (docs/contract.md)."""
    return {
        "id": customer_id,
        "version": version,
        "email": email or f"{customer_id}@example.com",
        "has_account": False,
        "created_at": "2026-11-22T10:00:00Z",
        "updated_at": "2026-11-22T10:00:00Z",
    }


async def announce_customer(rabbit_url: str, customer_id: str) -> None:
    """Publishes customer.created for `customer_id`, as the customers service would: the ledger
    moves money only for customers it has heard of."""
    async with Broker(rabbit_url) as broker:
        await broker.publish(
            envelope("customer.created", customer_state(customer_id), source="/crm/customers")
        )


@dataclass
class ServiceProcess:
    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, **extra_env: str) -> "ServiceProcess":
        env = {**os.environ, **self.env, "CRM_HTTP_PORT": str(self.port), **extra_env}
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", f"crm_{self.name}"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc and self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; log:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready; log:\n{self.log_path.read_text()[-3000:]}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def client(self, token: str | None = TOKEN) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(base_url=self.url, headers=headers, timeout=30)

    def api(self) -> AuthenticatedClient:
        """The typed client (crm_api_client, generated from docs/openapi.json by ./crm install):
        what an integrator would use; it raises on any status the document does not name."""
        return AuthenticatedClient(
            base_url=self.url, token=TOKEN, raise_on_unexpected_status=True, timeout=httpx.Timeout(30)
        )

    def sync_client(self, token: str | None = TOKEN) -> httpx.Client:
        """For tests that are not async (the browser tests drive Playwright's sync API)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)


class Broker:
    """A storefront's and a marketing system's view of RabbitMQ: plain aio-pika."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.connection: aio_pika.abc.AbstractRobustConnection | None = None
        self.received: list[dict[str, Any]] = []
        self._changed = asyncio.Event()

    async def __aenter__(self) -> "Broker":
        self.connection = await aio_pika.connect_robust(self.url)
        self.channel = await self.connection.channel(publisher_confirms=True)
        self.exchange = await self.channel.declare_exchange(
            EXCHANGE, aio_pika.ExchangeType.TOPIC, durable=True
        )
        queue = await self.channel.declare_queue(exclusive=True, auto_delete=True)
        await queue.bind(self.exchange, routing_key="#")
        await queue.consume(self._on_message, no_ack=True)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.connection
        await self.connection.close()

    async def _on_message(self, message: aio_pika.abc.AbstractIncomingMessage) -> None:
        try:
            body = json.loads(message.body)
        except ValueError:
            body = {"raw": message.body}
        self.received.append(
            {
                "routing_key": message.routing_key,
                "message_id": message.message_id,
                "content_type": message.content_type,
                "persistent": message.delivery_mode == aio_pika.DeliveryMode.PERSISTENT,
                "headers": dict(message.headers or {}),
                "body": body,
            }
        )
        self._changed.set()

    async def publish(
        self,
        env: dict[str, Any] | bytes,
        routing_key: str | None = None,
        headers: dict[str, Any] | None = None,
    ) -> None:
        if isinstance(env, dict):
            body, routing_key, message_id = json.dumps(env).encode(), routing_key or env["type"], env["id"]
        else:
            body, message_id = env, str(uuid.uuid4())
        await self.exchange.publish(
            aio_pika.Message(
                body,
                content_type="application/cloudevents+json",
                message_id=message_id,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                headers=headers,
            ),
            routing_key=routing_key or "order.placed",
        )

    def events(
        self, type_: str, pred: Callable[[dict[str, Any]], bool] = lambda e: True
    ) -> list[dict[str, Any]]:
        return [m for m in self.received if m["routing_key"] == type_ and pred(m["body"])]

    async def wait_for(
        self,
        type_: str,
        pred: Callable[[dict[str, Any]], bool] = lambda e: True,
        timeout: float = 20,
        count: int = 1,
    ) -> list[dict[str, Any]]:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            found = self.events(type_, pred)
            if len(found) >= count:
                return found
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise AssertionError(f"expected {count} {type_} event(s), got {len(found)}: {found}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), timeout=min(remaining, 0.5))
            except TimeoutError:
                pass

    async def queue_depth(self, name: str) -> int:
        """Messages ready in a queue (not those delivered and not yet acknowledged)."""
        channel = await self.connection.channel()  # type: ignore[union-attr]
        try:
            queue = await channel.declare_queue(name, passive=True)
            return queue.declaration_result.message_count or 0
        finally:
            await channel.close()

    async def dead_letters(
        self, service: str, expect: int, timeout: float = 20
    ) -> list[aio_pika.abc.AbstractIncomingMessage]:
        """Takes `expect` messages from the service's dead-letter queue (acknowledging them)."""
        channel = await self.connection.channel()  # type: ignore[union-attr]
        queue = await channel.get_queue(f"{service}.dead-letter")
        got = []
        deadline = time.monotonic() + timeout
        while len(got) < expect and time.monotonic() < deadline:
            msg = await queue.get(no_ack=False, fail=False)
            if msg is None:
                await asyncio.sleep(0.2)
                continue
            await msg.ack()
            got.append(msg)
        await channel.close()
        return got


async def eventually(check: Callable[[], Any], timeout: float = 20, interval: float = 0.2) -> Any:
    """Polls an async check until it returns a truthy value (the system is asynchronous)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")
