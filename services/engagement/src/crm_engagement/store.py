"""Every query and index of the engagement service; documents in, typed documents out.

Collections (fields in domain/documents.py):
- `contacts` {_id: customer id}: e-mail, names, categories, from customer.* events, at the
  customer's newest version (`contact_versions`, servicekit.copies).
- `consent_statements`: marketing consent statements by e-mail key, inserted only; the newest
  decides. An unsubscribe made here carries its newsletter.unsubscribed (the outbox).
- `segment_members` {_id: event id}: segment.member.joined / left, inserted only; the newest
  per customer decides.
- `templates`; `automations` {_id: name}; `secrets` {_id: name}: generated once.
- `messages`: one per recipient and cause (the mail outbox), `_id` derived from the cause.
- `send_claims` {_id: "<message>:<attempt>"}: who sends an attempt; taken before SMTP.
- `frequency_slots` {_id: "<customer>:<seq>"}: marketing mails counted per customer.
- `campaigns`.
- `tickets` / `tickets_changes` {_id: "tkt_<hex>"}: support tickets, versioned (each change an
  inserted (id, version), servicekit.versioned); `ticket_messages`: their threads, one inserted
  document per message (never updated).
- `reviews` / `reviews_changes` {_id: "rev_<hex>"}: product reviews, versioned; a change that
  storefronts hear of carries its review.* event (an outbox source).
- `surveys` {_id: "srv_<hex>"}; `survey_answers` {_id: hash of (survey, customer)}: one answer
  per survey and customer, inserted once.
- `review_requests` {_id: "<source>:<order id>"}: review requests waiting for their day.
- `preference_changes`: the preference centre's change sets (consent per topic and channel),
  inserted only, each with its preferences.updated / newsletter.* events (an outbox source).
- `personal_data`: answers to personal_data.requested (_id: the request event's id) and the
  erasure confirmations (_id: "erased:<customer id>"), each inserted once with its
  personal_data.* event (an outbox source).
"""

import secrets
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from pymongo import ASCENDING, DESCENDING, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from crm_engagement.domain import (
    AutomationDoc,
    CampaignDoc,
    ConsentStatement,
    ContactDoc,
    FrequencySlot,
    MessageDoc,
    MessageStatus,
    ReviewRequest,
    SecretDoc,
    SegmentMember,
    SendClaim,
    TemplateDoc,
    current_members,
)
from crm_engagement.domain.preferences import PreferenceChanges
from crm_engagement.domain.reviews import ReviewDoc
from crm_engagement.domain.surveys import AnswerDoc, SurveyDoc
from crm_engagement.domain.tickets import TicketDoc, TicketMessage, TicketQuery
from crm_servicekit.clock import now_ms
from crm_servicekit.copies import VERSION_INDEXES, VersionedCopy
from crm_servicekit.mongo import IndexSpec, insert_many_once, insert_once
from crm_servicekit.outbox import OUTBOX_INDEXES, OutboxSource, pending
from crm_servicekit.versioned import VersionedStore

BATCH = 1000

INDEXES: IndexSpec = {
    "contacts": [IndexModel([("email_key", ASCENDING)])],
    "contact_versions": VERSION_INDEXES,
    "consent_statements": [IndexModel([("email_key", ASCENDING), ("at", ASCENDING)]), *OUTBOX_INDEXES],
    "segment_members": [IndexModel([("segment_id", ASCENDING)])],
    "templates": [IndexModel([("name", ASCENDING)])],
    "automations": [],
    "secrets": [],
    "messages": [
        IndexModel([("status", ASCENDING), ("next_attempt_at", ASCENDING)]),
        IndexModel([("customer_id", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("campaign_id", ASCENDING), ("status", ASCENDING)]),
    ],
    "send_claims": [],
    "frequency_slots": [
        IndexModel([("customer_id", ASCENDING), ("seq", DESCENDING)]),
        IndexModel([("message_id", ASCENDING)]),
    ],
    "campaigns": [IndexModel([("status", ASCENDING), ("scheduled_at", ASCENDING)])],
    # The ticket list's filters and sorts (domain/tickets.py SORTS), each filter's index
    # starting with its equality field.
    "tickets": [
        IndexModel([("created_at", DESCENDING)]),
        IndexModel([("status", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("priority", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("assignee_id", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("customer_id", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("email_key", ASCENDING)]),  # a customer's tickets for an export or erasure
        IndexModel([("first_response_at", ASCENDING), ("first_response_due_at", ASCENDING)]),
        IndexModel([("first_response_due_at", ASCENDING)]),
        IndexModel([("priority_rank", DESCENDING), ("created_at", ASCENDING)]),
    ],
    "ticket_messages": [IndexModel([("ticket_id", ASCENDING), ("direction", ASCENDING), ("at", ASCENDING)])],
    "reviews": [
        IndexModel([("created_at", DESCENDING)]),
        IndexModel([("status", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("product_id", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("rating", ASCENDING), ("created_at", DESCENDING)]),
        IndexModel([("customer_id", ASCENDING)]),  # a customer's reviews for an export or erasure
        IndexModel([("email_key", ASCENDING)]),
    ],
    "personal_data": OUTBOX_INDEXES,
    "surveys": [IndexModel([("after_orders", ASCENDING)])],
    "review_requests": [
        IndexModel([("status", ASCENDING), ("due_at", ASCENDING)]),
        IndexModel([("customer_id", ASCENDING)]),  # erasure
    ],
    "preference_changes": [IndexModel([("customer_id", ASCENDING)]), *OUTBOX_INDEXES],
    "survey_answers": [
        *OUTBOX_INDEXES,
        IndexModel([("survey_id", ASCENDING)]),
        IndexModel([("customer_id", ASCENDING)]),
    ],
    "notices": OUTBOX_INDEXES,
}


class EngagementStore:
    def __init__(self, db: AsyncDatabase, notify: Callable[[], None] = lambda: None) -> None:
        self._notify = notify
        self.contacts = db["contacts"]
        self.contact_copies = VersionedCopy(self.contacts, db["contact_versions"], {"deleted": False})
        self.consents = db["consent_statements"]
        self.segment_members = db["segment_members"]
        self.templates = db["templates"]
        self.automations = db["automations"]
        self.secrets = db["secrets"]
        self.messages = db["messages"]
        self.claims = db["send_claims"]
        self.slots = db["frequency_slots"]
        self.campaigns = db["campaigns"]
        # Ticket and review changes carry their events (ticket.*, review.*).
        self.ticket_records = VersionedStore(db, "tickets", notify)
        self.tickets = self.ticket_records.current
        self.ticket_messages = db["ticket_messages"]
        self.review_records = VersionedStore(db, "reviews", notify)
        self.reviews = self.review_records.current
        self.personal_data = db["personal_data"]
        self.surveys = db["surveys"]
        self.review_requests = db["review_requests"]
        self.preferences = db["preference_changes"]
        self.answers = db["survey_answers"]
        self.notices = db["notices"]
        self.indexes: IndexSpec = {**self.ticket_records.indexes, **self.review_records.indexes, **INDEXES}

    def outbox_sources(self) -> list[OutboxSource]:
        return [
            OutboxSource(self.answers, ordered=False),
            OutboxSource(self.notices, ordered=False, prunable=True),
            OutboxSource(self.consents, ordered=False),
            self.review_records.outbox_source(),
            self.ticket_records.outbox_source(),
            OutboxSource(self.personal_data, ordered=False),
            OutboxSource(self.preferences, ordered=False),
        ]

    async def secret(self, name: str) -> str:
        """A secret generated once per installation, the same for every replica."""
        mine: SecretDoc = {"_id": name, "value": secrets.token_urlsafe(32)}
        await insert_once(self.secrets, mine)
        doc = await self.secrets.find_one({"_id": name})
        assert doc is not None
        return str(doc["value"])

    # --- contacts and consent -------------------------------------------------------------

    async def contact(self, customer_id: str) -> ContactDoc | None:
        return cast(ContactDoc | None, await self.contacts.find_one({"_id": customer_id, "deleted": False}))

    async def contacts_by_id(self, customer_ids: Sequence[str]) -> dict[str, ContactDoc]:
        out: dict[str, ContactDoc] = {}
        ids = list(dict.fromkeys(customer_ids))
        for i in range(0, len(ids), BATCH):
            async for doc in self.contacts.find({"_id": {"$in": ids[i : i + BATCH]}, "deleted": False}):
                out[doc["_id"]] = cast(ContactDoc, doc)
        return out

    async def contact_by_email(self, email_key: str) -> ContactDoc | None:
        return cast(
            ContactDoc | None, await self.contacts.find_one({"email_key": email_key, "deleted": False})
        )

    async def save_contact(self, doc: ContactDoc) -> bool:
        """Stores a newer version of a contact; False if this version or a newer one (or the
        erasure) is there. Only the event consumer writes contacts."""
        fields = {k: v for k, v in doc.items() if k not in ("_id", "version", "deleted")}
        return await self.contact_copies.write(doc["_id"], doc["version"], fields)

    async def erase_contact(self, customer_id: str) -> None:
        erased: dict[str, Any] = {
            "_id": customer_id,
            "email": None,
            "email_key": None,
            "first_name": None,
            "last_name": None,
            "has_account": False,
            "categories": [],
            "profile_subscribed": False,
            "version": 2**62,
            "deleted": True,
        }
        await self.contacts.replace_one({"_id": customer_id}, erased, upsert=True)
        await self.contact_copies.forget(customer_id)

    async def add_statement(self, doc: ConsentStatement) -> bool:
        return await insert_once(self.consents, doc)

    async def statements(self, email_key: str) -> list[ConsentStatement]:
        return cast(list[ConsentStatement], await self.consents.find({"email_key": email_key}).to_list())

    # --- segments -------------------------------------------------------------------------

    async def record_membership(self, doc: SegmentMember) -> None:
        await insert_once(self.segment_members, doc)  # there already: a redelivered event

    async def segment_member_ids(self, segment_id: str) -> list[str]:
        records = await self.segment_members.find({"segment_id": segment_id}, {"_id": 0}).to_list()
        return current_members(cast(list[SegmentMember], records))

    # --- templates and automations --------------------------------------------------------

    async def template(self, template_id: str) -> TemplateDoc | None:
        return cast(TemplateDoc | None, await self.templates.find_one({"_id": template_id}))

    async def add_template(self, doc: TemplateDoc) -> bool:
        return await insert_once(self.templates, doc)

    async def replace_template(self, doc: TemplateDoc) -> bool:
        result = await self.templates.replace_one({"_id": doc["_id"]}, dict(doc))
        return result.matched_count > 0

    async def delete_template(self, template_id: str) -> bool:
        return (await self.templates.delete_one({"_id": template_id})).deleted_count > 0

    async def list_templates(self, after: str | None, limit: int) -> list[TemplateDoc]:
        query: dict[str, Any] = {"_id": {"$gt": after}} if after else {}
        return cast(
            list[TemplateDoc], await self.templates.find(query).sort("_id", ASCENDING).limit(limit).to_list()
        )

    async def automation(self, name: str) -> AutomationDoc | None:
        return cast(AutomationDoc | None, await self.automations.find_one({"_id": name}))

    async def add_automation(self, doc: AutomationDoc) -> None:
        await insert_once(self.automations, doc)

    async def replace_automation(self, doc: AutomationDoc) -> None:
        await self.automations.replace_one({"_id": doc["_id"]}, dict(doc), upsert=True)

    async def list_automations(self) -> list[AutomationDoc]:
        return cast(list[AutomationDoc], await self.automations.find({}).sort("_id", ASCENDING).to_list())

    # --- messages -------------------------------------------------------------------------

    async def queue(self, docs: Sequence[MessageDoc]) -> set[int]:
        """Inserts the messages; returns the positions of those queued before (same cause)."""
        duplicates: set[int] = set()
        for i in range(0, len(docs), BATCH):
            found = await insert_many_once(self.messages, docs[i : i + BATCH])
            duplicates.update(i + j for j in found)
        return duplicates

    async def message(self, msg_id: str) -> MessageDoc | None:
        return cast(MessageDoc | None, await self.messages.find_one({"_id": msg_id}))

    async def due_messages(self, now: datetime, limit: int) -> list[MessageDoc]:
        cursor = self.messages.find({"status": "queued", "next_attempt_at": {"$lte": now}}).limit(limit)
        return cast(list[MessageDoc], await cursor.to_list())

    async def update_message(self, msg_id: str, changes: dict[str, Any]) -> None:
        """Only the holder of the message's current send claim calls this."""
        await self.messages.update_one({"_id": msg_id}, {"$set": changes})

    async def messages_of(self, customer_id: str, limit: int) -> list[MessageDoc]:
        cursor = self.messages.find({"customer_id": customer_id}).sort("created_at", DESCENDING).limit(limit)
        return cast(list[MessageDoc], await cursor.to_list())

    async def campaign_counts(self, campaign_id: str) -> dict[MessageStatus, int]:
        rows = await (
            await self.messages.aggregate(
                [{"$match": {"campaign_id": campaign_id}}, {"$group": {"_id": "$status", "n": {"$sum": 1}}}]
            )
        ).to_list()
        return {r["_id"]: r["n"] for r in rows}

    async def claim(self, doc: SendClaim) -> bool:
        return await insert_once(self.claims, doc)

    async def get_claim(self, claim_id: str) -> SendClaim | None:
        return cast(SendClaim | None, await self.claims.find_one({"_id": claim_id}))

    # --- frequency slots ------------------------------------------------------------------

    async def last_slot(self, customer_id: str) -> FrequencySlot | None:
        cursor = self.slots.find({"customer_id": customer_id}).sort("seq", DESCENDING).limit(1)
        docs = await cursor.to_list()
        return cast(FrequencySlot, docs[0]) if docs else None

    async def slot(self, customer_id: str, seq: int) -> FrequencySlot | None:
        return cast(FrequencySlot | None, await self.slots.find_one({"_id": f"{customer_id}:{seq}"}))

    async def slot_of_message(self, message_id: str) -> FrequencySlot | None:
        return cast(FrequencySlot | None, await self.slots.find_one({"message_id": message_id}))

    async def take_slot(self, doc: FrequencySlot) -> bool:
        return await insert_once(self.slots, doc)

    async def slots_since(self, customer_id: str, since: datetime) -> int:
        return await self.slots.count_documents({"customer_id": customer_id, "at": {"$gt": since}})

    # --- campaigns ------------------------------------------------------------------------

    async def add_campaign(self, doc: CampaignDoc) -> None:
        await self.campaigns.insert_one(dict(doc))

    async def campaign(self, campaign_id: str) -> CampaignDoc | None:
        return cast(CampaignDoc | None, await self.campaigns.find_one({"_id": campaign_id}))

    async def campaigns_in(self, status: str, limit: int = 20) -> list[CampaignDoc]:
        return cast(list[CampaignDoc], await self.campaigns.find({"status": status}).limit(limit).to_list())

    async def update_campaign(self, campaign_id: str, changes: dict[str, Any]) -> None:
        """Only the campaign job changes a campaign after it is created; its steps are
        idempotent, so two replicas doing the same step write the same values."""
        await self.campaigns.update_one({"_id": campaign_id}, {"$set": changes})

    async def list_campaigns(self, after: str | None, limit: int) -> list[CampaignDoc]:
        query: dict[str, Any] = {"_id": {"$lt": after}} if after else {}
        return cast(
            list[CampaignDoc], await self.campaigns.find(query).sort("_id", DESCENDING).limit(limit).to_list()
        )

    # --- tickets --------------------------------------------------------------------------

    async def ticket(self, ticket_id: str) -> TicketDoc | None:
        return cast(TicketDoc | None, await self.ticket_records.get(ticket_id))

    async def commit_ticket(self, doc: TicketDoc, events: list[dict[str, Any]]) -> None:
        """Records `doc` as its version with its events; raises VersionConflict if another
        writer did first."""
        await self.ticket_records.commit(doc["_id"], doc["version"], dict(doc), events)

    async def add_ticket_message(self, doc: TicketMessage) -> bool:
        """False: a message with this id is there already (a retried inbound call)."""
        return await insert_once(self.ticket_messages, doc)

    async def ticket_message(self, message_id: str) -> TicketMessage | None:
        return cast(TicketMessage | None, await self.ticket_messages.find_one({"_id": message_id}))

    async def thread(self, ticket_id: str, limit: int) -> list[TicketMessage]:
        cursor = self.ticket_messages.find({"ticket_id": ticket_id}).sort(
            [("at", ASCENDING), ("_id", ASCENDING)]
        )
        return cast(list[TicketMessage], await cursor.limit(limit).to_list())

    async def first_outbound(self, ticket_id: str) -> TicketMessage | None:
        cursor = self.ticket_messages.find({"ticket_id": ticket_id, "direction": "outbound"})
        docs = await cursor.sort([("at", ASCENDING), ("_id", ASCENDING)]).limit(1).to_list()
        return cast(TicketMessage, docs[0]) if docs else None

    async def answered(self, ticket_ids: Sequence[str]) -> set[str]:
        """Those of the tickets that have an outbound message."""
        found: set[str] = set()
        for i in range(0, len(ticket_ids), BATCH):
            query = {"ticket_id": {"$in": list(ticket_ids[i : i + BATCH])}, "direction": "outbound"}
            found.update([d["ticket_id"] async for d in self.ticket_messages.find(query, {"ticket_id": 1})])
        return found

    async def tickets_page(self, query: TicketQuery, limit: int) -> list[TicketDoc]:
        docs = await self.tickets.find(query.filter).sort(query.sort).limit(limit).to_list()
        return cast(list[TicketDoc], docs)

    # --- reviews --------------------------------------------------------------------------

    async def review(self, review_id: str) -> ReviewDoc | None:
        return cast(ReviewDoc | None, await self.review_records.get(review_id))

    async def commit_review(self, doc: ReviewDoc, events: list[dict[str, Any]]) -> None:
        """Records `doc` as its version with its events; raises VersionConflict."""
        await self.review_records.commit(doc["_id"], doc["version"], dict(doc), events)

    async def reviews_page(
        self, query: dict[str, Any], sort: Sequence[tuple[str, int]], limit: int
    ) -> list[ReviewDoc]:
        docs = await self.reviews.find(query).sort(list(sort)).limit(limit).to_list()
        return cast(list[ReviewDoc], docs)

    # --- personal data (export, erasure) --------------------------------------------------

    async def contact_record(self, customer_id: str) -> ContactDoc | None:
        """The contact, erased or not."""
        return cast(ContactDoc | None, await self.contacts.find_one({"_id": customer_id}))

    async def ticket_ids_of(self, customer_id: str, email_key: str | None) -> list[str]:
        """The customer's tickets: by id, and by e-mail for those opened before the id was known."""
        ids = [d["_id"] async for d in self.tickets.find({"customer_id": customer_id}, {"_id": 1})]
        if email_key:
            ids += [d["_id"] async for d in self.tickets.find({"email_key": email_key}, {"_id": 1})]
        return list(dict.fromkeys(ids))

    async def review_ids_of(self, customer_id: str, email_key: str | None) -> list[str]:
        ids = [d["_id"] async for d in self.reviews.find({"customer_id": customer_id}, {"_id": 1})]
        if email_key:
            ids += [d["_id"] async for d in self.reviews.find({"email_key": email_key}, {"_id": 1})]
        return list(dict.fromkeys(ids))

    async def all_messages_of(self, customer_id: str) -> list[MessageDoc]:
        cursor = self.messages.find({"customer_id": customer_id}, {"html": 0})
        return cast(list[MessageDoc], await cursor.to_list())

    async def erase_messages(self, customer_id: str, erased: dict[str, Any]) -> int:
        """Queued mail to the customer is skipped; every mail's address and texts go, its
        status, kind, template, campaign and times stay (campaign results still add up)."""
        await self.messages.update_many(
            {"customer_id": customer_id, "status": "queued"},
            {"$set": {"status": "skipped", "reason": "the customer was erased"}},
        )
        await self.messages.update_many({"customer_id": customer_id}, {"$set": erased})
        return await self.messages.count_documents({"customer_id": customer_id})

    async def skip_queued_marketing(self, customer_id: str, reason: str) -> None:
        """Queued marketing mail to the customer is not sent (transactional mail still is)."""
        await self.messages.update_many(
            {"customer_id": customer_id, "status": "queued", "kind": "marketing"},
            {"$set": {"status": "skipped", "reason": reason}},
        )

    async def move_customer_records(self, merged_id: str, kept_id: str) -> dict[str, int]:
        """customer.merged: the merged customer's mails, survey answers, preference change sets
        and waiting review requests become the kept one's (each an update of `customer_id`, so
        running it again finds nothing left to move). The counts moved, by kind."""
        moved: dict[str, int] = {}
        for name, collection in (
            ("messages", self.messages),
            ("survey_answers", self.answers),
            ("preference_changes", self.preferences),
            ("review_requests", self.review_requests),
        ):
            result = await collection.update_many(
                {"customer_id": merged_id}, {"$set": {"customer_id": kept_id}}
            )
            moved[name] = result.modified_count
        return moved

    async def erase_thread(self, ticket_id: str, body: str) -> int:
        await self.ticket_messages.update_many({"ticket_id": ticket_id}, {"$set": {"body": body}})
        return await self.ticket_messages.count_documents({"ticket_id": ticket_id})

    async def erase_statements(self, email_key: str) -> int:
        """Consent statements of the address (published ones: an unpublished unsubscribe
        still goes out first and is erased by the next erasure of the same address)."""
        result = await self.consents.delete_many({"email_key": email_key, "published": True})
        return result.deleted_count

    async def record_personal_data(self, doc: dict[str, Any]) -> bool:
        """False: recorded before (a redelivered request or erasure)."""
        return await insert_once(self.personal_data, doc)

    async def personal_data_record(self, record_id: str) -> dict[str, Any] | None:
        return cast(dict[str, Any] | None, await self.personal_data.find_one({"_id": record_id}))

    # --- surveys --------------------------------------------------------------------------

    async def add_survey(self, doc: SurveyDoc) -> None:
        await self.surveys.insert_one(dict(doc))

    async def survey(self, survey_id: str) -> SurveyDoc | None:
        return cast(SurveyDoc | None, await self.surveys.find_one({"_id": survey_id}))

    async def replace_survey(self, doc: SurveyDoc) -> None:
        await self.surveys.replace_one({"_id": doc["_id"]}, dict(doc))

    async def list_surveys(self, after: str | None, limit: int) -> list[SurveyDoc]:
        query: dict[str, Any] = {"_id": {"$lt": after}} if after else {}
        return cast(
            list[SurveyDoc], await self.surveys.find(query).sort("_id", DESCENDING).limit(limit).to_list()
        )

    async def surveys_after_orders(self) -> list[SurveyDoc]:
        return cast(list[SurveyDoc], await self.surveys.find({"after_orders": True}).to_list())

    async def add_answer(self, doc: AnswerDoc, events: list[dict[str, Any]]) -> bool:
        """False: this customer answered this survey already. The answer carries its
        survey.response.recorded (an outbox source)."""
        if await insert_once(self.answers, {**doc, "recorded_at": doc["at"], **pending(events)}):
            self._notify()
            return True
        return False

    async def announce(self, key: str, event: dict[str, Any]) -> bool:
        """One event per `key`, ever (message.sent / .failed per message, campaign.completed
        per campaign): the first outcome recorded is the one announced."""
        doc = {"_id": key, "recorded_at": now_ms(), **pending([event])}
        if await insert_once(self.notices, doc):
            self._notify()
            return True
        return False

    async def answer(self, answer_id: str) -> AnswerDoc | None:
        return cast(AnswerDoc | None, await self.answers.find_one({"_id": answer_id}, {"outbox": 0}))

    async def answers_to(self, survey_id: str) -> list[AnswerDoc]:
        return cast(
            list[AnswerDoc], await self.answers.find({"survey_id": survey_id}, {"comment": 0}).to_list()
        )

    async def answers_of(self, customer_id: str) -> list[AnswerDoc]:
        return cast(
            list[AnswerDoc], await self.answers.find({"customer_id": customer_id}, {"outbox": 0}).to_list()
        )

    async def erase_answers(self, customer_id: str) -> int:
        """Comments go (the customer's own words); scores stay, so reported NPS stays true."""
        # The stored survey.response.recorded holds the comment too: it goes with it.
        await self.answers.update_many(
            {"customer_id": customer_id}, {"$set": {"comment": None, "outbox": [], "published": True}}
        )
        return await self.answers.count_documents({"customer_id": customer_id})

    # --- preference centre ----------------------------------------------------------------

    async def add_preference_changes(self, doc: PreferenceChanges) -> None:
        await self.preferences.insert_one(dict(doc))

    async def preference_changes(self, customer_id: str) -> list[PreferenceChanges]:
        cursor = self.preferences.find({"customer_id": customer_id}, {"outbox": 0})
        return cast(list[PreferenceChanges], await cursor.to_list())

    async def erase_preferences(self, customer_id: str) -> int:
        """The change sets already published (an unpublished one goes out first; a repeated
        erasure takes it)."""
        result = await self.preferences.delete_many({"customer_id": customer_id, "published": True})
        return result.deleted_count

    # --- review requests ------------------------------------------------------------------

    async def add_review_request(self, doc: ReviewRequest) -> bool:
        """False: this order's request is there already (a redelivered order.placed)."""
        return await insert_once(self.review_requests, doc)

    async def due_review_requests(self, now: datetime, limit: int) -> list[ReviewRequest]:
        cursor = self.review_requests.find({"status": "waiting", "due_at": {"$lte": now}}).limit(limit)
        return cast(list[ReviewRequest], await cursor.to_list())

    async def close_review_request(self, request_id: str, status: str) -> None:
        """After its mail is queued (or skipped): doing it twice writes the same."""
        await self.review_requests.update_one({"_id": request_id}, {"$set": {"status": status}})

    async def erase_review_requests(self, customer_id: str) -> int:
        result = await self.review_requests.delete_many({"customer_id": customer_id})
        return result.deleted_count
