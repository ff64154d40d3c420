"""Product reviews: received from storefronts (pending), moderated (published or rejected
with a reason), answered by staff. A change storefronts must hear of is committed with its
review.* event in the same inserted change record (the outbox)."""

from typing import Any

from crm_contracts.envelope import new_event
from crm_contracts.names import EventType
from crm_contracts.outbound import ReviewPublished
from crm_engagement.domain import reviews as rules
from crm_engagement.domain.reviews import ReviewDoc
from crm_engagement.service.people import identify
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import NotFound
from crm_servicekit.versioned import VersionConflict, retry_on_conflict


class Reviews:
    def __init__(self, store: EngagementStore, settings: EngagementSettings) -> None:
        self.store = store
        self.settings = settings

    async def get(self, review_id: str) -> ReviewDoc:
        doc = await self.store.review(review_id)
        if doc is None:
            raise NotFound("Review", review_id)
        return doc

    async def submit(
        self,
        *,
        product_id: str,
        sku: str | None,
        customer_id: str | None,
        email: str | None,
        author_name: str | None,
        rating: int,
        title: str,
        body: str,
        external_id: str | None,
    ) -> tuple[ReviewDoc, bool]:
        """Stores a review, pending moderation (storefronts hear nothing yet). The same
        `external_id` again returns the review stored first (False: not new)."""
        who = await identify(self.store, customer_id, email)
        doc = rules.new_review(
            rules.review_id(external_id),
            product_id=product_id,
            sku=sku,
            customer_id=who.customer_id,
            email=who.email,
            email_key=who.email_key,
            author_name=author_name,
            rating=rating,
            title=title,
            body=body,
            now=now_ms(),
        )
        try:
            await self.store.commit_review(doc, [])
        except VersionConflict:
            return await self.get(doc["_id"]), False
        return doc, True

    async def publish(self, review_id: str, by: str | None) -> ReviewDoc:
        return await self._change(review_id, lambda r: rules.publish(r, by, now_ms()))

    async def reject(self, review_id: str, reason: str, by: str | None) -> ReviewDoc:
        return await self._change(review_id, lambda r: rules.reject(r, reason, by, now_ms()))

    async def reply(self, review_id: str, body: str, author: str | None) -> ReviewDoc:
        return await self._change(review_id, lambda r: rules.set_reply(r, body, author, now_ms()))

    async def _change(self, review_id: str, decide: Any) -> ReviewDoc:
        async def attempt() -> ReviewDoc:
            current = await self.get(review_id)
            new: ReviewDoc = decide(current)
            data = rules.storefront_event(current, new)
            events = []
            if data is not None:
                kind = (
                    EventType.REVIEW_PUBLISHED
                    if isinstance(data, ReviewPublished)
                    else EventType.REVIEW_WITHDRAWN
                )
                events.append(new_event(kind, self.settings.source, data, subject=review_id))
            await self.store.commit_review(new, events)
            return new

        done: ReviewDoc = await retry_on_conflict(attempt)
        return done

    async def list(
        self,
        *,
        status: str | None,
        product_id: str | None,
        rating: int | None,
        after: list[Any] | None,
        limit: int,
    ) -> list[ReviewDoc]:
        query = rules.query_filter(status=status, product_id=product_id, rating=rating, after=after)
        return await self.store.reviews_page(query, rules.SORT, limit + 1)
