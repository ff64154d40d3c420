"""What this service learns from events (customers, consent, segment membership), and the
one-click unsubscribe."""

import uuid
from collections.abc import Callable
from datetime import datetime

from crm_contracts.envelope import new_event
from crm_contracts.inbound import NewsletterUnsubscribed
from crm_contracts.names import EventType
from crm_contracts.types import email_key
from crm_engagement.domain import ConsentStatement, ContactDoc, consented, customer_of_token
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms, to_ms
from crm_servicekit.errors import NotFound
from crm_servicekit.outbox import pending


class Contacts:
    def __init__(
        self, store: EngagementStore, settings: EngagementSettings, secret: str, notify: Callable[[], None]
    ) -> None:
        self.store = store
        self.settings = settings
        self.secret = secret
        self._notify = notify

    async def customer_seen(
        self,
        customer_id: str,
        version: int,
        email: str,
        first_name: str | None,
        last_name: str | None,
        has_account: bool,
        email_subscribed: bool,
        categories: list[str],
        updated_at: datetime,
        consent_at: datetime | None = None,
    ) -> ContactDoc | None:
        """Stores the customer's newer state; returns it, or None if it was not newer (or was
        written by the handler of an older version on its way: store.save_contact).

        The profile's consent becomes a statement first, keyed by when it was stated
        (`consent_at`, from marketing_consent), so that it is one statement however many
        versions and handlers carry it; then the contact. A contact holding a consent time
        therefore means its statement is recorded, and a handler that finds its own consent
        time in the contact it read records nothing. (From a publisher without
        marketing_consent: a statement at the version's update time whenever the consent
        differs from the contact read.)"""
        before = await self.store.contact_record(customer_id)  # an erasure is newer than any
        doc: ContactDoc = {
            "_id": customer_id,
            "email": email,
            "email_key": email_key(email),
            "first_name": first_name,
            "last_name": last_name,
            "has_account": has_account,
            "categories": categories,
            "profile_subscribed": email_subscribed,
            "consent_at": consent_at,
            "version": version,
            "deleted": False,
        }
        if before is not None and before["version"] >= version:
            return None
        if consent_at is not None:
            if before is None or before.get("consent_at") != consent_at:
                await self.record_consent(
                    f"{customer_id}:consent:{consent_at.isoformat()}",
                    email,
                    email_subscribed,
                    consent_at,
                    "customer-profile",
                )
        elif before is None or before["profile_subscribed"] != email_subscribed:
            await self.record_consent(
                f"{customer_id}:v{version}", email, email_subscribed, updated_at, "customer-profile"
            )
        if not await self.store.save_contact(doc):
            return None
        return doc

    async def record_consent(
        self, statement_id: str, email: str, subscribed: bool, at: datetime, source: str
    ) -> None:
        statement: ConsentStatement = {
            "_id": statement_id,
            "email_key": email_key(email),
            "subscribed": subscribed,
            "at": to_ms(at),
            "source": source,
            "recorded_at": now_ms(),
            "outbox": [],
            "published": True,
        }
        await self.store.add_statement(statement)  # there already: a redelivered event

    async def consent(self, email: str) -> bool:
        return consented(await self.store.statements(email_key(email)))

    async def segment_membership(
        self, event_id: str, segment_id: str, customer_id: str, joined: bool, at: datetime
    ) -> None:
        at_us = int(at.timestamp()) * 1_000_000 + at.microsecond
        await self.store.record_membership(
            {
                "_id": event_id,
                "segment_id": segment_id,
                "customer_id": customer_id,
                "joined": joined,
                "at_us": at_us,
            }
        )

    async def contact(self, customer_id: str) -> ContactDoc:
        doc = await self.store.contact(customer_id)
        if doc is None:
            raise NotFound("Customer", customer_id)
        return doc

    async def contact_of_token(self, token: str) -> ContactDoc:
        customer_id = customer_of_token(self.secret, token)
        if customer_id is None:
            raise NotFound("Unsubscribe link", token[:40])
        return await self.contact(customer_id)

    async def unsubscribe(self, token: str) -> ContactDoc:
        """Records the unsubscribe and publishes newsletter.unsubscribed, in one insert (the
        statement is its own outbox record). Already unsubscribed: nothing new."""
        contact = await self.contact_of_token(token)
        assert contact["email"] is not None
        if not await self.consent(contact["email"]):
            return contact
        at = now_ms()
        event_id = str(uuid.uuid4())
        event = new_event(
            EventType.NEWSLETTER_UNSUBSCRIBED,
            self.settings.source,
            NewsletterUnsubscribed(email=contact["email"], at=at),
            subject=contact["_id"],
            id=event_id,
        )
        statement: ConsentStatement = {
            # The event's id: when it comes back to this service's own queue it is a duplicate.
            "_id": event_id,
            "email_key": email_key(contact["email"]),
            "subscribed": False,
            "at": at,
            "source": "unsubscribe-link",
            "recorded_at": at,
            **pending([event]),  # type: ignore[typeddict-item]
        }
        await self.store.add_statement(statement)
        self._notify()
        return contact
