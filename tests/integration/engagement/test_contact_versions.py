"""Engagement's copy of a customer on the real FerretDB (service/contacts.py, store.py): the
contact ends at the newest version and the marketing consent at the newest profile consent,
whatever order and concurrency the customer's versions are handled in, also when one handler
writes a newer version on behalf of another (servicekit.copies)."""

import asyncio
import random
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from crm_engagement.service.contacts import Contacts
from crm_engagement.store import EngagementStore

T0 = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture
async def contacts(infra):
    client: AsyncMongoClient = AsyncMongoClient(infra["mongodb"], tz_aware=True)
    name = f"t_contact_versions_{uuid.uuid4().hex[:8]}"
    store = EngagementStore(client[name])
    for collection, indexes in store.indexes.items():
        if indexes:
            await client[name][collection].create_indexes(indexes)
    yield Contacts(store, None, "secret", lambda: None)  # type: ignore[arg-type]
    await client.drop_database(name)
    await client.close()


# The customer's versions: consent stated at v1 (subscribed), v4 (unsubscribed), v7 (again).
CONSENT = {1: (True, T0), 4: (False, T0 + timedelta(days=4)), 7: (True, T0 + timedelta(days=7))}


def version(v: int) -> dict:
    subscribed, at = next(CONSENT[k] for k in sorted(CONSENT, reverse=True) if k <= v)
    return {
        "customer_id": "cus_1",
        "version": v,
        "email": "ana@example.com",
        "first_name": f"First{v}",
        "last_name": None,
        "has_account": True,
        "email_subscribed": subscribed,
        "categories": [],
        "updated_at": T0 + timedelta(days=v, hours=1),
        "consent_at": at,
    }


async def test_versions_handled_at_once_in_any_order_end_at_the_newest_and_its_consent(contacts):
    for seed in range(3):
        versions = [version(v) for v in range(1, 9)] * 2
        random.Random(seed).shuffle(versions)
        await asyncio.gather(*(contacts.customer_seen(**v) for v in versions))
        contact = await contacts.contact("cus_1")
        assert (contact["version"], contact["first_name"]) == (8, "First8")
        assert await contacts.consent("ana@example.com") is True
        await contacts.store.erase_contact("cus_1")
        await contacts.store.contacts.delete_one({"_id": "cus_1"})  # the next round starts afresh


async def test_a_version_written_on_its_handlers_behalf_keeps_its_consent(contacts):
    """v7's handler records its consent and its version, then stalls; v6's handler writes v6,
    finds v7 and writes it too. v7's handler then finds its work done: the re-subscription
    stated at v7 counts (decided per contact write, it was lost)."""
    await contacts.customer_seen(**version(5))  # unsubscribed since v4
    real_write = contacts.store.contact_copies.write

    async def stalls_after_recording(doc_id, v, fields, on_insert=None, exists=False):
        await contacts.store.contact_copies.versions.insert_one(
            {"_id": f"{doc_id}:{v}", "doc_id": doc_id, "version": v, "fields": dict(fields)}
        )
        return False

    contacts.store.contact_copies.write = stalls_after_recording  # type: ignore[method-assign]
    assert await contacts.customer_seen(**version(7)) is None
    contacts.store.contact_copies.write = real_write  # type: ignore[method-assign]
    await contacts.customer_seen(**version(6))
    contact = await contacts.contact("cus_1")
    assert (contact["version"], contact["profile_subscribed"]) == (7, True)
    assert await contacts.consent("ana@example.com") is True


async def test_a_late_version_of_an_erased_customer_stores_nothing(contacts):
    await contacts.customer_seen(**version(1))
    await contacts.store.erase_contact("cus_1")
    before = await contacts.store.statements("ana@example.com")
    assert await contacts.customer_seen(**version(4)) is None  # with a consent change
    assert await contacts.store.contact("cus_1") is None
    assert await contacts.store.statements("ana@example.com") == before
    assert await contacts.store.contact_copies.versions.count_documents({"doc_id": "cus_1"}) == 0
