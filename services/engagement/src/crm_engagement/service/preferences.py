"""The preference centre: consent per topic (newsletter, offers, product news) and channel
(e-mail, SMS), set by the customer on a page reached by a signed, expiring link (or by staff
and storefronts through the API). A change is one inserted change set carrying its events
(the outbox): preferences.updated always, and newsletter.subscribed / .unsubscribed when the
newsletter by e-mail changes, which the customers service records."""

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from crm_contracts.envelope import new_event
from crm_contracts.inbound import NewsletterSubscribed, NewsletterUnsubscribed
from crm_contracts.names import EventType
from crm_contracts.outbound import ConsentPreference, PreferencesUpdated
from crm_contracts.types import email_key
from crm_engagement.domain import ConsentStatement, ContactDoc, consented
from crm_engagement.domain import preferences as rules
from crm_engagement.domain.preferences import PreferenceChanges, Stated
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Forbidden, NotFound
from crm_servicekit.outbox import pending

Pair = tuple[str, str]
NEWSLETTER_EMAIL: Pair = ("newsletter", "email")


class Preferences:
    def __init__(
        self, store: EngagementStore, settings: EngagementSettings, secret: str, notify: Callable[[], None]
    ) -> None:
        self.store = store
        self.settings = settings
        self.secret = secret
        self._notify = notify

    def link(self, customer_id: str) -> tuple[str, datetime]:
        expires = now_ms() + timedelta(days=self.settings.preference_link_days)
        url = f"{self.settings.public_url.rstrip('/')}/preferences/{rules.token(self.secret, customer_id, expires)}"
        return url, expires

    async def contact(self, customer_id: str) -> ContactDoc:
        contact = await self.store.contact(customer_id)
        if contact is None or contact["email"] is None:
            raise NotFound("Customer", customer_id)
        return contact

    async def contact_of_token(self, token: str) -> ContactDoc:
        found = rules.read_token(self.secret, token)
        if found is None:
            raise NotFound("Preference link", token[:40])
        customer_id, expires = found
        if expires <= now_ms():
            raise Forbidden("this preference link has expired", slug="preference-link-expired")
        return await self.contact(customer_id)

    async def of(self, contact: ContactDoc) -> dict[Pair, Stated]:
        """Every topic and channel now. The newsletter by e-mail is the marketing consent kept
        for the address (newest statement from any source); the rest is this centre's."""
        prefs = rules.current(await self.store.preference_changes(contact["_id"]))
        statements = await self.store.statements(contact["email_key"] or "")
        newest = max(statements, key=lambda s: (s["at"], not s["subscribed"]), default=None)
        prefs[NEWSLETTER_EMAIL] = {
            "granted": consented(statements),
            "at": newest["at"] if newest else None,
            "source": newest["source"] if newest else None,
        }
        return prefs

    async def allows(self, customer_id: str, topic: str) -> bool:
        """A marketing mail on `topic` by e-mail (the newsletter is checked by the sender from
        the consent statements)."""
        return rules.current(await self.store.preference_changes(customer_id))[(topic, "email")]["granted"]

    async def set(self, contact: ContactDoc, wanted: dict[Pair, bool], source: str) -> dict[Pair, Stated]:
        """Records what differs from now, with its events, in one insert."""
        before = await self.of(contact)
        changes = rules.changed(before, wanted)
        if not changes:
            return before
        at = now_ms()
        after = dict(before)
        for ch in changes:
            after[(ch["topic"], ch["channel"])] = {"granted": ch["granted"], "at": at, "source": source}
        customer_id, email = contact["_id"], contact["email"]
        assert email is not None
        src = self.settings.source

        def shown(pairs: list[Pair]) -> list[ConsentPreference]:
            return [ConsentPreference(topic=t, channel=c, **after[(t, c)]) for t, c in pairs]

        changed_pairs: list[Pair] = [(ch["topic"], ch["channel"]) for ch in changes]
        data = PreferencesUpdated(
            customer_id=customer_id,
            email=email,
            changed=shown(changed_pairs),
            preferences=shown([(t, c) for t in rules.TOPICS for c in rules.CHANNELS]),
            at=at,
        )
        events = [new_event(EventType.PREFERENCES_UPDATED, src, data, subject=customer_id)]
        newsletter = next((ch for ch in changes if (ch["topic"], ch["channel"]) == NEWSLETTER_EMAIL), None)
        statement_id = str(uuid.uuid4())
        if newsletter is not None:
            kind, model = (
                (EventType.NEWSLETTER_SUBSCRIBED, NewsletterSubscribed)
                if newsletter["granted"]
                else (EventType.NEWSLETTER_UNSUBSCRIBED, NewsletterUnsubscribed)
            )
            # The event's id is the statement's: when it comes back to this service's queue
            # it is a duplicate (and if the statement below was not stored, it stores it).
            events.append(
                new_event(kind, src, model(email=email, at=at), subject=customer_id, id=statement_id)
            )
        doc: PreferenceChanges = {
            "_id": str(uuid.uuid4()),
            "customer_id": customer_id,
            "changes": [ch for ch in changes if (ch["topic"], ch["channel"]) != NEWSLETTER_EMAIL],
            "at": at,
            "source": source,
            "recorded_at": at,
            **pending(events),  # type: ignore[typeddict-item]
        }
        await self.store.add_preference_changes(doc)
        if newsletter is not None:
            statement: ConsentStatement = {
                "_id": statement_id,
                "email_key": email_key(email),
                "subscribed": newsletter["granted"],
                "at": at,
                "source": source,
                "recorded_at": at,
                "outbox": [],
                "published": True,
            }
            await self.store.add_statement(statement)
        self._notify()
        return after
