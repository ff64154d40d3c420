"""A demo store's data for a running system (`./crm seed`), so a newcomer's first look shows
something: a year of orders from 120 customers (some cancelled or refunded, some to store
credit), newsletter sign-ups, two groups with members, store credit, and three segments.

Everything goes in the way it would in production: orders and newsletter events published to
`crm.events` as a storefront would, the rest through the HTTP API. Event ids, order ids and
names are derived from the seed, so running it again changes nothing.

    RABBITMQ_URL=... CRM_API_TOKEN=... python tools/seed.py [--customers 120] [--seed 7]
"""

import argparse
import asyncio
import json
import os
import random
import sys
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import aio_pika
import httpx

FIRST = ["Ana", "Bruno", "Carla", "Diego", "Eva", "Filipe", "Greta", "Hugo", "Inês", "João", "Karin", "Luis",
         "Marta", "Nuno", "Olga", "Pedro", "Rita", "Sofia", "Tomás", "Vera"]  # fmt: skip
LAST = ["Almeida", "Brandt", "Costa", "Dubois", "Esteves", "Ferreira", "García", "Hansen", "Iglesias",
        "Jensen", "Lima", "Moreau", "Novak", "Oliveira", "Pereira", "Rossi", "Silva", "Torres"]  # fmt: skip
MARKETS = [("PT", "EUR", "Lisboa"), ("PT", "EUR", "Porto"), ("ES", "EUR", "Madrid"), ("FR", "EUR", "Lyon"),
           ("DE", "EUR", "Berlin"), ("GB", "GBP", "London"), ("US", "USD", "Boston")]  # fmt: skip
CATALOG = [("SHO-RUN", "Trail runner", "shoes", 8900), ("SHO-CAS", "Canvas sneaker", "shoes", 5900),
           ("SHI-LIN", "Linen shirt", "shirts", 4500), ("SHI-TEE", "Organic tee", "shirts", 1900),
           ("BAG-DAY", "Day pack", "bags", 6900), ("HAT-WOL", "Wool beanie", "hats", 2400),
           ("COA-RAI", "Rain jacket", "coats", 12900)]  # fmt: skip
SOURCE = "/storefronts/demo"
SEGMENTS = {
    "Big spenders": "amount_spent >= 300",
    "Lapsed buyers": "number_of_orders >= 1 AND last_order_date < -120d",
    "Newsletter readers": "email_subscribed = true",
}
GROUPS = {"VIP": "Customers with personal service", "Wholesale": "Buy on account"}
DEFAULT_URLS = {
    s: f"http://127.0.0.1:{p}"
    for s, p in (("customers", 8001), ("groups", 8002), ("ledger", 8003), ("segments", 8004))
}


def event_id(seed: int, *parts: object) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"crm-demo/{seed}/" + "/".join(map(str, parts))))


def envelope(seed: int, type_: str, data: dict[str, Any], at: datetime, *key: object) -> dict[str, Any]:
    return {"specversion": "1.0", "id": event_id(seed, type_, *key), "source": SOURCE, "type": type_,
            "time": at.isoformat(), "subject": str(key[0]), "data": data}  # fmt: skip


def store_history(customers: int, seed: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The storefront's events, oldest first, and the e-mails of the customers."""
    r = random.Random(seed)
    now = datetime.now(UTC).replace(microsecond=0)
    events: list[tuple[datetime, dict[str, Any]]] = []
    emails = []
    for k in range(customers):
        first, last = r.choice(FIRST), r.choice(LAST)
        email = f"{first.lower().replace('ê', 'e')}.{last.lower().replace('í', 'i')}.{k}@demo.example"
        emails.append(email)
        country, currency, city = r.choice(MARKETS)
        orders = min(int(r.paretovariate(1.2)), 12)  # most buy once or twice, a few often
        at = now - timedelta(days=r.uniform(20, 365))
        for n in range(orders):
            items = [
                {"sku": sku, "name": name, "category": cat, "quantity": r.randint(1, 2), "unit_price": price}
                for sku, name, cat, price in r.sample(CATALOG, r.randint(1, 3))
            ]
            total = sum(i["quantity"] * i["unit_price"] for i in items)
            order_id = f"demo-{seed}-{k}-{n}"
            address = {"first_name": first, "last_name": last, "line1": f"Rua {k} {n}", "city": city,
                       "postal_code": "1000-001", "country_code": country}  # fmt: skip
            placed = {"order_id": order_id, "placed_at": at.isoformat(), "currency": currency, "total": total,
                      "customer": {"email": email, "customer_id": None, "first_name": first, "last_name": last,
                                   "phone": None},
                      "items": items, "shipping_address": address, "billing_address": None,
                      "store_credit_used": 0}  # fmt: skip
            events.append((at, envelope(seed, "order.placed", placed, at, order_id)))
            roll = r.random()
            later = at + timedelta(hours=r.uniform(2, 72))
            if roll < 0.05 and later < now:
                cancelled = {
                    "order_id": order_id,
                    "cancelled_at": later.isoformat(),
                    "customer": {"email": email},
                }
                events.append((later, envelope(seed, "order.cancelled", cancelled, later, order_id)))
            elif roll < 0.12 and later < now:
                refund = {"order_id": order_id, "refunded_at": later.isoformat(), "customer": {"email": email},
                          "currency": currency, "amount": items[0]["unit_price"],
                          "to_store_credit": r.random() < 0.5}  # fmt: skip
                events.append((later, envelope(seed, "order.refunded", refund, later, order_id)))
            at += timedelta(days=r.uniform(10, 90))
            if at > now:
                break
        if r.random() < 0.45:
            signed = now - timedelta(days=r.uniform(1, 300))
            data = {"email": email, "at": signed.isoformat()}
            events.append((signed, envelope(seed, "newsletter.subscribed", data, signed, email)))
    events.sort(key=lambda e: e[0])
    return [e for _, e in events], emails


async def publish(url: str, events: list[dict[str, Any]]) -> None:
    connection = await aio_pika.connect_robust(url)
    async with connection:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await channel.declare_exchange("crm.events", aio_pika.ExchangeType.TOPIC, durable=True)
        for start in range(0, len(events), 100):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            json.dumps(e).encode(),
                            content_type="application/cloudevents+json",
                            message_id=e["id"],
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                        ),
                        routing_key=e["type"],
                    )
                    for e in events[start : start + 100]
                )
            )


async def wait_for_customers(
    http: httpx.AsyncClient, emails: list[str], timeout: float = 300
) -> dict[str, str]:
    """e-mail -> customer id, once the customers service has them all."""
    deadline = asyncio.get_running_loop().time() + timeout
    ids: dict[str, str] = {}
    while len(ids) < len(emails):
        for email in [e for e in emails if e not in ids][:50]:
            r = await http.get("/v1/customers", params={"q": email, "limit": 1})
            items = r.json()["items"] if r.status_code == 200 else []
            if items and items[0]["email"] == email:
                ids[email] = items[0]["id"]
        if asyncio.get_running_loop().time() > deadline:
            raise SystemExit(f"only {len(ids)} of {len(emails)} customers arrived within {timeout:.0f} s")
        if len(ids) < len(emails):
            await asyncio.sleep(1)
    return ids


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=120)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--url",
        action="append",
        default=[],
        metavar="SERVICE=URL",
        help="where a service answers (default: ./crm up's ports on 127.0.0.1)",
    )
    args = parser.parse_args()
    urls = {**DEFAULT_URLS, **dict(u.split("=", 1) for u in args.url)}
    token = os.environ["CRM_API_TOKEN"]
    events, emails = store_history(args.customers, args.seed)
    await publish(os.environ["RABBITMQ_URL"], events)
    print(f"published {len(events)} storefront events for {len(emails)} customers")

    auth = {"Authorization": f"Bearer {token}"}
    async with (
        httpx.AsyncClient(base_url=urls["customers"], headers=auth, timeout=30) as customers,
        httpx.AsyncClient(base_url=urls["groups"], headers=auth, timeout=30) as groups,
        httpx.AsyncClient(base_url=urls["ledger"], headers=auth, timeout=30) as ledger,
        httpx.AsyncClient(base_url=urls["segments"], headers=auth, timeout=30) as segments,
    ):
        ids = await wait_for_customers(customers, emails)
        r = random.Random(args.seed)
        for name, description in GROUPS.items():
            created = await groups.post("/v1/groups", json={"name": name, "description": description})
            if created.status_code == 201:
                group_id = created.json()["id"]
            else:  # made by an earlier run: find it by name
                listed = (await groups.get("/v1/groups", params={"limit": 500})).json()["items"]
                group_id = next(g["id"] for g in listed if g["name"] == name)
            members = r.sample(sorted(ids.values()), k=min(12, len(ids)))
            await groups.post(f"/v1/groups/{group_id}/customers", json={"add": members, "remove": []})
        for email in r.sample(emails, k=min(10, len(emails))):
            await ledger.post(
                f"/v1/accounts/{ids[email]}/entries",
                json={"kind": "funding", "amount": 1500, "currency": "EUR", "reason": "welcome gift"},
                headers={"Idempotency-Key": event_id(args.seed, "funding", email)},
            )
        existing = {
            s["name"] for s in (await segments.get("/v1/segments", params={"limit": 500})).json()["items"]
        }
        for name, rule in SEGMENTS.items():
            if name not in existing:
                made = await segments.post("/v1/segments", json={"name": name, "rule": rule})
                if made.status_code != 201:
                    print(f"segment {name!r}: {made.status_code} {made.text}", file=sys.stderr)
    print(
        f"{len(GROUPS)} groups, store credit for 10 customers, {len(SEGMENTS)} segments: see each service's /docs and the mail it caused at http://127.0.0.1:8025"
    )


if __name__ == "__main__":
    asyncio.run(main())
