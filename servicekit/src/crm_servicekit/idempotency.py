"""`Idempotency-Key` for POSTs that must not run twice (docs/contract.md §2, Stripe's semantics).

The same key with the same request (method, path, body) returns the first result again,
status and body; the same key with another request is a 409 `idempotency-key-reused`.

How, without transactions: the first request INSERTS {_id: key, fingerprint} (a unique _id, so
two concurrent first requests cannot both run); after the action it stores the response on that
document. A second request that finds a response replays it; one that finds none while the first
is still within its lease gets 409 `idempotency-key-in-use` (retry later). After the lease the
claim is taken over and the action runs again, so the action must itself be idempotent for the
key (e.g. the record it inserts has an id derived from the key): that covers a crash between
acting and storing the response. A 5xx (a transient domain error or any other exception) releases the
claim, so the client can retry with the same key.

Keys expire (24 hours by default, like Stripe's): an older record is neither replayed nor held
against another request, and `purge` (a periodic job; FerretDB has no TTL index) deletes it.
"""

import hashlib
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, IndexModel
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from crm_servicekit.errors import Conflict, DomainError
from crm_servicekit.problems import Problem, from_domain

Action = Callable[[], Awaitable[tuple[int, Any]]]
"""Runs the request; returns (HTTP status, JSON-ready body) or raises a domain error."""


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps([method.upper(), path, body], sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


class IdempotencyKeys:
    def __init__(
        self, collection: AsyncCollection, lease_seconds: float = 30.0, expire_hours: float = 24.0
    ) -> None:
        self.collection = collection
        self.lease = timedelta(seconds=lease_seconds)
        self.expiry = timedelta(hours=expire_hours)

    @property
    def indexes(self) -> dict[str, list[IndexModel]]:
        return {self.collection.name: [IndexModel([("subject", ASCENDING)])]}

    async def run(
        self, key: str | None, print_: str, action: Action, *, subject: str | None = None
    ) -> tuple[int, Any]:
        """(status, body) of the action, run at most once per key. `subject` (e.g. a customer
        id) lets `forget` drop the stored responses that hold that subject's personal data."""
        if key is None:
            return await action()
        now = datetime.now(UTC)
        claim = {"_id": key, "fingerprint": print_, "subject": subject, "claimed_at": now}
        try:
            await self.collection.insert_one(claim)
        except DuplicateKeyError:
            existing = await self.collection.find_one({"_id": key})
            if existing is not None and _aware(existing["claimed_at"]) <= now - self.expiry:
                # Expired: the key is free again. Deleted only if still that old record, so
                # two requests racing here cannot both delete a fresh claim.
                await self.collection.delete_one({"_id": key, "claimed_at": existing["claimed_at"]})
                return await self.run(key, print_, action, subject=subject)
            if existing is None:  # released meanwhile by a failed first request: take it
                return await self.run(key, print_, action, subject=subject)
            if existing["fingerprint"] != print_:
                raise Conflict(
                    "idempotency-key-reused",
                    "Idempotency-Key already used for another request",
                    f"key {key!r} was first used with a different method, path or body",
                ) from None
            if "response" in existing:
                return _replay(existing["response"])
            if now - _aware(existing["claimed_at"]) < self.lease:
                raise Conflict(
                    "idempotency-key-in-use",
                    "A request with this Idempotency-Key is in progress",
                    "retry after it completes",
                ) from None
            # The first request died after claiming: run again (the action is idempotent).
            await self.collection.update_one({"_id": key}, {"$set": {"claimed_at": now}})
        try:
            status, body = await action()
        except (Problem, DomainError) as e:
            p = from_domain(e) if isinstance(e, DomainError) else e
            if p.status >= 500:  # transient (e.g. contention): the client may retry the key
                await self.collection.delete_one({"_id": key, "response": {"$exists": False}})
            else:  # a 4xx is the result, e.g. insufficient funds: replayed as it was
                await self._store(key, {"problem": [p.status, p.slug, p.title, p.detail, p.extra]})
            raise
        except BaseException:
            await self.collection.delete_one({"_id": key, "response": {"$exists": False}})
            raise
        await self._store(key, {"status": status, "body": body})
        return status, body

    async def _store(self, key: str, response: dict[str, Any]) -> None:
        await self.collection.update_one({"_id": key}, {"$set": {"response": response}})

    async def purge(self) -> int:
        """Deletes the records of expired keys; returns how many."""
        cutoff = datetime.now(UTC) - self.expiry
        return (await self.collection.delete_many({"claimed_at": {"$lt": cutoff}})).deleted_count

    async def forget(self, subject: str) -> None:
        """Drop the stored responses about `subject` (erasure); their effects stay."""
        await self.collection.delete_many({"subject": subject})


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _replay(response: dict[str, Any]) -> tuple[int, Any]:
    if "problem" in response:
        status, slug, title, detail, extra = response["problem"]
        raise Problem(status, slug, title, detail, **(extra or {}))
    return response["status"], response["body"]
