"""Operator command: list a service's dead letters with their reasons, and replay chosen ones.

    crm-dead-letters list customers
    crm-dead-letters replay customers MESSAGE_ID [MESSAGE_ID ...]
    crm-dead-letters replay customers --all

Replayed messages go straight to `<service>.events` (not to `crm.events`, so other services do
not see them twice) without the dead-letter headers. Messages not chosen stay in the
dead-letter queue. Needs RABBITMQ_URL.
"""

import argparse
import asyncio
import json
import os
import sys
from typing import Any

import aio_pika


def _describe(msg: aio_pika.abc.AbstractIncomingMessage) -> dict[str, Any]:
    headers: dict[str, Any] = dict(msg.headers or {})
    reason = headers.get("x-crm-reason")
    if reason is None and headers.get("x-death"):  # dead-lettered by RabbitMQ itself
        death = headers["x-death"][0]
        reason = f"rabbitmq: {death.get('reason')}"
    return {
        "message_id": msg.message_id,
        "routing_key": headers.get("x-crm-original-routing-key") or msg.routing_key,
        "reason": reason,
        "dead_lettered_at": headers.get("x-crm-dead-lettered-at"),
        "body": msg.body.decode("utf-8", "replace")[:500],
    }


async def _take_all(
    channel: aio_pika.abc.AbstractChannel, service: str
) -> list[aio_pika.abc.AbstractIncomingMessage]:
    queue = await channel.get_queue(f"{service}.dead-letter")
    taken = []
    while (msg := await queue.get(no_ack=False, fail=False)) is not None:
        taken.append(msg)
    return taken


async def _put_back(channel: aio_pika.abc.AbstractChannel, service: str, msg: Any) -> None:
    """Returns a dead letter to its queue as a fresh copy (confirmed, then the original acked)
    instead of a requeue: a requeue counts as a delivery on a quorum queue, and RabbitMQ 4.0 to
    4.2 give quorum queues a default delivery limit of 20, so listing 20 times would drop them."""
    headers = {k: v for k, v in (msg.headers or {}).items() if k != "x-delivery-count"}
    await channel.default_exchange.publish(
        aio_pika.Message(
            msg.body,
            headers=headers,
            message_id=msg.message_id,
            content_type=msg.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
        ),
        routing_key=f"{service}.dead-letter",
    )
    await msg.ack()


async def list_dead_letters(url: str, service: str) -> list[dict[str, Any]]:
    connection = await aio_pika.connect(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        taken = await _take_all(channel, service)
        described = [_describe(m) for m in taken]
        for msg in taken:  # put every one back, in order: listing changes nothing
            await _put_back(channel, service, msg)
        return described


async def replay(url: str, service: str, ids: set[str] | None) -> int:
    """Replays the dead letters whose message id is in `ids` (all if None). Returns how many."""
    connection = await aio_pika.connect(url)
    replayed = 0
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        for msg in await _take_all(channel, service):
            if ids is not None and msg.message_id not in ids:
                await _put_back(channel, service, msg)
                continue
            headers = {k: v for k, v in (msg.headers or {}).items() if not k.startswith("x-")}
            await channel.default_exchange.publish(
                aio_pika.Message(
                    msg.body,
                    headers=headers,
                    message_id=msg.message_id,
                    content_type=msg.content_type,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                ),
                routing_key=f"{service}.events",
            )
            await msg.ack()  # only after the broker confirmed the replayed copy
            replayed += 1
    return replayed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="crm-dead-letters", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p_list = sub.add_parser("list", help="list dead letters with their reasons (JSON lines)")
    p_list.add_argument("service")
    p_replay = sub.add_parser("replay", help="send chosen dead letters back to the service")
    p_replay.add_argument("service")
    p_replay.add_argument("message_ids", nargs="*")
    p_replay.add_argument("--all", action="store_true")
    args = parser.parse_args(argv)
    url = os.environ.get("RABBITMQ_URL")
    if not url:
        parser.error("RABBITMQ_URL is not set")
    if args.command == "list":
        for item in asyncio.run(list_dead_letters(url, args.service)):
            print(json.dumps(item))
        return 0
    if not args.all and not args.message_ids:
        parser.error("name message ids to replay, or --all")
    n = asyncio.run(replay(url, args.service, None if args.all else set(args.message_ids)))
    print(f"replayed {n} message(s) to {args.service}.events", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
