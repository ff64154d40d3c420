"""A message that keeps failing for a transient reason (here: the service's database cut off
behind a TCP proxy the test holds) is retried CRM_DELIVERY_LIMIT - 1 times with a pause, then
dead-lettered with the last error; the attempts are counted by the service itself
(`x-crm-attempts`), because from RabbitMQ 4.3 a requeue no longer raises `x-delivery-count`."""

import asyncio
import contextlib
import json
from urllib.parse import urlsplit, urlunsplit

from harness import Broker, envelope, order_placed


class Proxy:
    """Forwards TCP connections to the database until cut: then every connection is closed
    and new ones are refused, as in an outage of that service's database only."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    async def cut(self) -> None:
        assert self.server is not None
        self.server.close()
        for writer in self.writers:
            writer.close()


async def test_a_message_failing_every_time_is_dead_lettered_after_the_configured_attempts(
    system, broker: Broker
):
    url = urlsplit(system.mongo_url)
    proxy = Proxy(url.hostname or "127.0.0.1", url.port or 27017)
    port = await proxy.start()
    netloc = url.netloc.rsplit("@", 1)[0] + "@" if "@" in url.netloc else ""
    through_proxy = urlunsplit(url._replace(netloc=f"{netloc}127.0.0.1:{port}"))
    await asyncio.to_thread(system.service, "customers", MONGODB_URL=through_proxy, CRM_DELIVERY_LIMIT="5")

    await proxy.cut()
    event = envelope("order.placed", order_placed("retry.limit@example.com"))
    await broker.publish(event)

    [dead] = await broker.dead_letters("customers", expect=1, timeout=120)
    assert json.loads(dead.body)["id"] == event["id"]
    reason = dead.headers["x-crm-reason"]
    assert reason.startswith("failed 4 times, last error:"), reason  # 5 - 1 attempts
    assert dead.headers["x-crm-attempts"] == 3  # the copy of the third failure came back a fourth time
    assert broker.events("customer.created", lambda b: b["data"]["email"] == "retry.limit@example.com") == []
