"""Every query and index of the customers service; documents in, typed documents out
(crm_customers.domain.documents says what each holds).

Collections (database crm_customers):
- customers / customers_changes: the customer, versioned (crm_servicekit.versioned): every
  change is an inserted (id, version) carrying its events (the outbox).
- customer_emails {_id: lower-cased e-mail, customer_id}: the uniqueness claim; an insert with
  a unique _id is what makes two concurrent first orders one customer.
- orders {_id: "<source>|<order_id>"}: each order.placed stored once.
- order_adjustments: cancellations ({_id: "<order key>|cancelled"}) and refunds ({_id:
  "<order key>|refund|<event id>"}), stored whether or not the order has arrived; statistics
  are derived from both. Each carries the customer_id of its order once the order is known
  (set by whichever of the two arrives second), so a customer's adjustments are one equality
  lookup however many orders.
- memberships {_id: "<group_id>|<customer_id>|<event id>", member, at}: what each group event
  said; the latest statement per (group, customer) counts. deleted_groups {_id: group id}.
- notes, credentials {_id: customer_id, hash} (Argon2 hashes, kept out of the versioned state).
- consents {_id: lower-cased e-mail}: consent stated for an e-mail before it was a customer.
- agents {_id: "agt_<hex>"}: sales agents; agent_emails {_id: lower-cased e-mail, agent_id}: the
  claim that keeps agents' e-mails unique. Agents and notes are edited in place (last writer
  wins): staff edit them by hand, nothing is derived from them, no event carries them.
- tasks / tasks_changes {_id: "tsk_<hex>"}: tasks about a customer, versioned like customers
  (each change an inserted (id, version) with its task.* event).
- customer_imports {_id: "imp_<hex>"}: CSV import jobs and their counts.
- personal_data_requests {_id: "pdr_<hex>"}: GDPR exports asked for, each inserted once with its
  personal_data.requested (an outbox source); personal_data_parts {_id: "<request>|<service>"}:
  each service's answer, stored once. Nothing here is updated: the status is derived.
- verifications {_id: SHA-256 of a token}: registrations with a guest's e-mail waiting for it to
  be verified; verification_uses {_id: the same}: the single use, claimed by insert;
  verification_outbox: their events (holding the token), deleted once published.
- customer_merges {_id: merged customer id}: staff merges (the audit; its insert is the claim).
- erasure_requests {_id: "era_<hex>"}: scheduled erasures; erasure_open {_id: customer id}: the
  one open erasure of a customer (claimed by insert); erasure_outcomes {_id: request id}: the
  claim that decides between a cancellation and the job carrying it out; erasure_done {_id:
  request id}; erasure_confirmations {_id: "<customer>|<service>"}: personal_data.erased.
"""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, cast

from pymongo import ASCENDING, DESCENDING, DeleteOne, IndexModel
from pymongo.asynchronous.database import AsyncDatabase

from crm_customers.domain.documents import (
    Adjustment,
    Agent,
    AgentEmailClaim,
    Consent,
    Credentials,
    Customer,
    CustomerChange,
    CustomerMerge,
    EmailClaim,
    ErasureConfirmation,
    ErasureDone,
    ErasureOutcome,
    ErasureRequest,
    ImportJob,
    Membership,
    Note,
    OpenErasure,
    Order,
    PersonalDataPart,
    PersonalDataRequest,
    StoredConsent,
    Task,
    Verification,
    VerificationUse,
)
from crm_customers.domain.search import FILTER_FIELDS, PREFIX_FIELDS, SORT_FIELDS, Query
from crm_customers.domain.stats import OrderView, apply_adjustments
from crm_customers.domain.tasks import TaskQuery
from crm_servicekit.mongo import IndexSpec, insert_many_once, insert_once
from crm_servicekit.outbox import OUTBOX_INDEXES, OutboxSource, pending
from crm_servicekit.versioned import VersionedStore

SEARCH_INDEXES = [
    # q: one anchored range per key; MongoDB answers the $or with one index scan per clause.
    *(IndexModel([(f, ASCENDING)]) for f in PREFIX_FIELDS),
    # Unfiltered lists in each sort order; the _id suffix makes the keyset cursor exact.
    *(IndexModel([(f, ASCENDING), ("_id", ASCENDING)]) for f in SORT_FIELDS.values()),
    # Filtered lists (group, tag, type, status) in name or creation order.
    *(
        IndexModel([(k, ASCENDING), (f, ASCENDING), ("_id", ASCENDING)])
        for k in FILTER_FIELDS
        for f in ("name_sort", "created_at")
    ),
]

_NOT_OUTBOX = {
    "outbox": 0,
    "published": 0,
    "relay": 0,
    "live": 0,
    "recorded_at": 0,
}  # what callers of an outbox record get

INDEXES: IndexSpec = {
    "customers": SEARCH_INDEXES,
    "customer_emails": [IndexModel([("customer_id", ASCENDING)])],
    "orders": [IndexModel([("customer_id", ASCENDING), ("placed_at", DESCENDING), ("_id", DESCENDING)])],
    "order_adjustments": [IndexModel([("order_key", ASCENDING)]), IndexModel([("customer_id", ASCENDING)])],
    "memberships": [IndexModel([("customer_id", ASCENDING)]), IndexModel([("group_id", ASCENDING)])],
    "notes": [IndexModel([("customer_id", ASCENDING), ("created_at", DESCENDING), ("_id", DESCENDING)])],
    "deleted_groups": [],
    "credentials": [],
    "consents": [],
    "agents": [
        IndexModel([("name", ASCENDING), ("_id", ASCENDING)]),
        IndexModel([("active", ASCENDING), ("name", ASCENDING), ("_id", ASCENDING)]),
    ],
    "agent_emails": [IndexModel([("agent_id", ASCENDING)])],
    # Lists in due order per customer, per assignee, and of open tasks (overdue).
    "customer_imports": [],
    "tasks": [
        IndexModel([(f, ASCENDING), ("due_at", ASCENDING), ("_id", ASCENDING)])
        for f in ("customer_id", "assignee_id", "status")
    ],
    # personal data: read by _id, by request, by customer (erasure drops a customer's parts)
    "personal_data_requests": [*OUTBOX_INDEXES, IndexModel([("customer_id", ASCENDING)])],
    "personal_data_parts": [
        IndexModel([("request_id", ASCENDING)]),
        IndexModel([("customer_id", ASCENDING)]),
    ],
    # erasure requests and outcomes carry customer.erasure.scheduled / .cancelled (outboxes)
    "erasure_requests": [*OUTBOX_INDEXES, IndexModel([("customer_id", ASCENDING)])],
    "erasure_open": [],
    "erasure_outcomes": [*OUTBOX_INDEXES, IndexModel([("outcome", ASCENDING)])],
    "erasure_done": [],
    "erasure_confirmations": [IndexModel([("customer_id", ASCENDING)])],
    # registrations waiting for their e-mail to be verified; their events (which hold the token)
    # go out through verification_outbox, whose records are deleted once published
    "verifications": [IndexModel([("customer_id", ASCENDING)])],
    "verification_uses": [],
    "verification_outbox": OUTBOX_INDEXES,
    "customer_merges": [IndexModel([("kept_id", ASCENDING)])],
}
"""The collections of this service beyond the versioned store's own (`CustomerStore.indexes`)."""


def _before(field: str, after: tuple[datetime, str] | None) -> dict[str, Any]:
    """Keyset: documents sorted (field, _id) descending that come after `after`."""
    if not after:
        return {}
    at, key = after
    return {"$or": [{field: {"$lt": at}}, {field: at, "_id": {"$lt": key}}]}


class CustomerStore:
    def __init__(self, db: AsyncDatabase, notify: Callable[[], None]) -> None:
        self.db = db
        self._notify = notify
        self.customers = VersionedStore(db, "customers", notify)
        self.emails = db["customer_emails"]
        self.orders = db["orders"]
        self.adjustments = db["order_adjustments"]
        self.memberships = db["memberships"]
        self.deleted_groups = db["deleted_groups"]
        self.notes = db["notes"]
        self.credentials = db["credentials"]
        self.consents = db["consents"]
        self.agents = db["agents"]
        self.agent_emails = db["agent_emails"]
        self.task_records = VersionedStore(db, "tasks", notify)
        self.tasks = self.task_records.current
        self.imports = db["customer_imports"]
        self.pd_requests = db["personal_data_requests"]
        self.pd_parts = db["personal_data_parts"]
        self.erasures = db["erasure_requests"]
        self.erasure_open = db["erasure_open"]
        self.erasure_outcomes = db["erasure_outcomes"]
        self.erasure_done = db["erasure_done"]
        self.erasure_confirmations = db["erasure_confirmations"]
        self.verifications = db["verifications"]
        self.verification_uses = db["verification_uses"]
        self.verification_outbox = db["verification_outbox"]
        self.merges = db["customer_merges"]

    @property
    def indexes(self) -> IndexSpec:
        return {**self.customers.indexes, **self.task_records.indexes, **INDEXES}

    # customers

    async def get(self, customer_id: str, probe: bool = True) -> Customer | None:
        return cast(Customer | None, await self.customers.get(customer_id, probe))

    async def newer_recorded(self, customer_id: str, doc: Customer | None) -> bool:
        return await self.customers.newer_recorded(customer_id, cast(dict[str, Any] | None, doc))

    async def search(self, query: Query, limit: int) -> list[Customer]:
        docs = await self.customers.current.find(query.filter).sort(query.sort).limit(limit).to_list()
        return cast(list[Customer], docs)

    async def count(self, query: Query) -> int:
        """How many customers match the list's filters (the same indexes answer it)."""
        return await self.customers.current.count_documents(query.filter)

    async def commit(
        self,
        customer_id: str,
        version: int,
        doc: Customer | None,
        events: list[dict[str, Any]],
        cause: str | None,
    ) -> None:
        """Records `doc` (None: erased) as `version` with its events; raises VersionConflict
        or AlreadyApplied (crm_servicekit.versioned) and then changes nothing."""
        state = cast(dict[str, Any] | None, doc)
        await self.customers.commit(customer_id, version, state, events, cause=cause)

    async def was_erased(self, customer_id: str) -> bool:
        erased = await self.customers.changes.find_one({"doc_id": customer_id, "state": None}, {"_id": 1})
        return erased is not None

    # e-mail claims

    async def claim_email(self, email_key: str, customer_id: str) -> str:
        """The id owning this e-mail: ours if we claimed it first, otherwise the existing one."""
        claim: EmailClaim = {"_id": email_key, "customer_id": customer_id}
        if await insert_once(self.emails, claim):
            return customer_id
        existing = await self.emails.find_one({"_id": email_key})
        if existing is None:  # released in between: claim again
            return await self.claim_email(email_key, customer_id)
        return cast(str, existing["customer_id"])

    async def owner_of(self, email_key: str) -> str | None:
        doc = await self.emails.find_one({"_id": email_key})
        return cast(str, doc["customer_id"]) if doc else None

    async def release_email(self, email_key: str, customer_id: str) -> None:
        await self.emails.delete_one({"_id": email_key, "customer_id": customer_id})

    # orders

    async def record_order(self, order: Order) -> Order:
        """The stored order with this key: the given one, or the one stored first (redelivery)."""
        if await insert_once(self.orders, order):
            return order
        return cast(Order, await self.orders.find_one({"_id": order["_id"]}))

    async def forget_order(self, order_key: str, customer_id: str) -> None:
        await self.orders.delete_one({"_id": order_key, "customer_id": customer_id})

    async def record_adjustment(self, adjustment: Adjustment) -> bool:
        """False: stored before (the same cancellation or refund again)."""
        return await insert_once(self.adjustments, adjustment)

    async def attach_adjustments(self, order_key: str, customer_id: str) -> None:
        """Gives the adjustments stored before their order arrived the order's customer.
        Both sides write first and look second, so one of them always sees the other."""
        await self.adjustments.update_many({"order_key": order_key}, {"$set": {"customer_id": customer_id}})

    async def order(self, order_key: str) -> Order | None:
        return cast(Order | None, await self.orders.find_one({"_id": order_key}))

    async def _views(self, customer_id: str, orders: list[Order]) -> list[OrderView]:
        adj: dict[str, list[Adjustment]] = {o["_id"]: [] for o in orders}
        if orders:
            async for a in self.adjustments.find({"customer_id": customer_id}):
                if a["order_key"] in adj:
                    adj[a["order_key"]].append(cast(Adjustment, a))
        return [apply_adjustments(o, adj[o["_id"]]) for o in orders]

    async def order_views(self, customer_id: str) -> list[OrderView]:
        """Every order of the customer with its cancellations and refunds applied."""
        docs = await self.orders.find({"customer_id": customer_id}).to_list()
        return await self._views(customer_id, cast(list[Order], docs))

    async def orders_page(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[OrderView]:
        filt = {"customer_id": customer_id, **_before("placed_at", after)}
        docs = await self.orders.find(filt).sort([("placed_at", -1), ("_id", -1)]).limit(limit).to_list()
        return await self._views(customer_id, cast(list[Order], docs))

    async def mark_addresses_learned(self, order_keys: list[str]) -> None:
        # One update by _id each (`$in` would scan), not one bulk command: FerretDB 1.24 holds
        # a PostgreSQL connection per statement of an update command until it ends
        # (crm_servicekit.outbox). Usually there is one.
        for k in order_keys:
            await self.orders.update_one({"_id": k}, {"$set": {"address_learned": True}})

    # groups

    async def record_membership(
        self, group_id: str, customer_id: str, member: bool, at: datetime, event_id: str, version: int | None
    ) -> None:
        """One inserted fact per event: deliveries handled concurrently or out of order still
        end on the latest statement (by the pair's version, else by event time), which an
        update in place would not."""
        fact: Membership = {
            "_id": f"{group_id}|{customer_id}|{event_id}",
            "group_id": group_id,
            "customer_id": customer_id,
            "member": member,
            "at": at,
            "version": version,
        }
        await insert_once(self.memberships, fact)

    async def members_of(self, group_id: str) -> list[str]:
        return sorted({m["customer_id"] async for m in self.memberships.find({"group_id": group_id})})

    async def remove_group(self, group_id: str) -> None:
        """Group ids are never reused: a deleted group stays deleted whatever comes later."""
        await insert_once(self.deleted_groups, {"_id": group_id})

    async def group_ids_of(self, customer_id: str) -> list[str]:
        latest: dict[str, Membership] = {}
        async for doc in self.memberships.find({"customer_id": customer_id}):
            m = cast(Membership, doc)
            seen = latest.get(m["group_id"])
            if seen is None or _newest_first(m) > _newest_first(seen):
                latest[m["group_id"]] = m
        member = [g for g, m in latest.items() if m["member"]]
        if not member:
            return []
        gone = await asyncio.gather(*(self.deleted_groups.find_one({"_id": g}, {"_id": 1}) for g in member))
        return sorted(g for g, deleted in zip(member, gone, strict=False) if deleted is None)

    # consent stated for an e-mail that was no customer yet

    async def record_consent(self, email_key: str, consent: Consent) -> None:
        current = await self.consents.find_one({"_id": email_key})
        if current is None or current["at"] <= consent["at"]:
            stored: StoredConsent = {"_id": email_key, **consent}
            await self.consents.replace_one({"_id": email_key}, stored, upsert=True)

    async def consent_for(self, email_key: str) -> StoredConsent | None:
        return cast(StoredConsent | None, await self.consents.find_one({"_id": email_key}))

    # notes

    async def add_note(self, note: Note) -> None:
        await self.notes.insert_one(dict(note))

    async def notes_page(
        self, customer_id: str, limit: int, after: tuple[datetime, str] | None = None
    ) -> list[Note]:
        filt = {"customer_id": customer_id, **_before("created_at", after)}
        docs = await self.notes.find(filt).sort([("created_at", -1), ("_id", -1)]).limit(limit).to_list()
        return cast(list[Note], docs)

    async def note(self, customer_id: str, note_id: str) -> Note | None:
        return cast(Note | None, await self.notes.find_one({"_id": note_id, "customer_id": customer_id}))

    async def edit_note(
        self, customer_id: str, note_id: str, body: str, at: datetime, by: str | None
    ) -> bool:
        result = await self.notes.update_one(
            {"_id": note_id, "customer_id": customer_id},
            {"$set": {"body": body, "edited_at": at, "edited_by": by}},
        )
        return result.matched_count == 1

    async def delete_note(self, customer_id: str, note_id: str) -> bool:
        result = await self.notes.delete_one({"_id": note_id, "customer_id": customer_id})
        return result.deleted_count == 1

    # tags

    async def tag_counts(self) -> dict[str, int]:
        """Every tag in use and how many customers carry it (a pass over the customers: the
        tag list is a staff screen, not a hot path)."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"tags": {"$exists": True, "$ne": []}}},
            {"$unwind": "$tags"},
            {"$group": {"_id": "$tags", "n": {"$sum": 1}}},
        ]
        cursor = await self.customers.current.aggregate(pipeline)
        return {doc["_id"]: doc["n"] async for doc in cursor}

    async def count_customers_of_agent(self, agent_id: str) -> int:
        return await self.customers.current.count_documents({"sales_agent_id": agent_id})

    # agents

    async def add_agent(self, agent: Agent) -> None:
        await self.agents.insert_one(dict(agent))

    async def agent(self, agent_id: str) -> Agent | None:
        return cast(Agent | None, await self.agents.find_one({"_id": agent_id}))

    async def agents_page(
        self, limit: int, after: tuple[str, str] | None, active: bool | None
    ) -> list[Agent]:
        clauses: list[dict[str, Any]] = []
        if active is not None:
            clauses.append({"active": active})
        if after:
            name, key = after
            clauses.append({"$or": [{"name": {"$gt": name}}, {"name": name, "_id": {"$gt": key}}]})
        filt: dict[str, Any] = {"$and": clauses} if len(clauses) > 1 else (clauses[0] if clauses else {})
        docs = await self.agents.find(filt).sort([("name", 1), ("_id", 1)]).limit(limit).to_list()
        return cast(list[Agent], docs)

    async def save_agent(self, agent: Agent) -> None:
        await self.agents.replace_one({"_id": agent["_id"]}, dict(agent))

    async def delete_agent(self, agent_id: str) -> None:
        await self.agents.delete_one({"_id": agent_id})
        await self.agent_emails.delete_many({"agent_id": agent_id})

    async def claim_agent_email(self, email_key: str, agent_id: str) -> bool:
        """True: the e-mail is this agent's now (or was already)."""
        claim: AgentEmailClaim = {"_id": email_key, "agent_id": agent_id}
        if await insert_once(self.agent_emails, claim):
            return True
        existing = await self.agent_emails.find_one({"_id": email_key})
        if existing is None:  # released in between
            return await self.claim_agent_email(email_key, agent_id)
        return cast(str, existing["agent_id"]) == agent_id

    async def release_agent_email(self, email_key: str, agent_id: str) -> None:
        await self.agent_emails.delete_one({"_id": email_key, "agent_id": agent_id})

    # tasks

    async def task(self, task_id: str) -> Task | None:
        return cast(Task | None, await self.task_records.get(task_id))

    async def commit_task(
        self, task_id: str, version: int, task: Task | None, events: list[dict[str, Any]]
    ) -> None:
        """Records `task` (None: deleted) as `version` with its events; raises VersionConflict
        (crm_servicekit.versioned) and then changes nothing."""
        await self.task_records.commit(task_id, version, cast(dict[str, Any] | None, task), events)

    async def task_ids_of(self, customer_id: str) -> list[str]:
        return [t["_id"] async for t in self.tasks.find({"customer_id": customer_id}, projection={"_id": 1})]

    async def tasks_of(self, customer_id: str) -> list[Task]:
        """Every task of the customer, soonest due first (the export)."""
        docs = await self.tasks.find({"customer_id": customer_id}).to_list()
        return sorted(cast(list[Task], docs), key=lambda t: (t["due_at"], t["_id"]))

    async def tasks_page(self, query: TaskQuery, limit: int) -> list[Task]:
        docs = await self.tasks.find(query.filter).sort(query.sort).limit(limit).to_list()
        return cast(list[Task], docs)

    async def count_open_tasks_of(self, agent_id: str) -> int:
        return await self.tasks.count_documents({"assignee_id": agent_id, "status": "open"})

    # CSV imports

    async def claim_emails(self, claims: list[EmailClaim]) -> set[int]:
        """Claims many e-mails in one command; returns the positions already owned."""
        return await insert_many_once(self.emails, claims)

    async def consents_for(self, email_keys: list[str]) -> dict[str, StoredConsent]:
        """One query for a batch (`$in` is not pushed down on FerretDB: a pass over consents,
        which hold only e-mails that were no customer when they stated consent)."""
        if not email_keys:
            return {}
        docs = await self.consents.find({"_id": {"$in": email_keys}}).to_list()
        return {d["_id"]: cast(StoredConsent, d) for d in docs}

    async def create_many(self, docs: list[Customer], events: list[dict[str, Any]]) -> set[int]:
        """Records new customers as their version 1 with their events, a batch in two commands
        (the change records, then their projections), the way VersionedStore.commit records
        one: the unique (id, version) still decides. Returns the positions whose version 1
        existed already (someone else created that customer first); those change nothing."""
        now = datetime.now(UTC)
        changes = [
            {
                "_id": f"{d['id']}:1",
                "doc_id": d["id"],
                "version": 1,
                "state": dict(d),
                "recorded_at": now,
                **pending([e]),
            }
            for d, e in zip(docs, events, strict=True)
        ]
        taken = await insert_many_once(self.customers.changes, changes)
        await insert_many_once(
            self.customers.current, [dict(d) for i, d in enumerate(docs) if i not in taken]
        )
        self._notify()
        return taken

    async def save_import(self, job: ImportJob) -> None:
        await self.imports.replace_one({"_id": job["_id"]}, dict(job), upsert=True)

    async def import_job(self, job_id: str) -> ImportJob | None:
        return cast(ImportJob | None, await self.imports.find_one({"_id": job_id}))

    # history: the recorded versions of a customer

    async def changes_page(
        self, customer_id: str, limit: int, before: datetime | None = None
    ) -> list[CustomerChange]:
        filt: dict[str, Any] = {"doc_id": customer_id}
        if before:
            filt["recorded_at"] = {"$lte": before}
        docs = await (
            self.customers.changes.find(filt, projection={"state": 0})
            .sort([("version", -1)])
            .limit(limit)
            .to_list()
        )
        return cast(list[CustomerChange], docs)

    # credentials

    async def set_password_hash(self, customer_id: str, hashed: str, at: datetime) -> None:
        credentials: Credentials = {"_id": customer_id, "hash": hashed, "updated_at": at}
        await self.credentials.replace_one({"_id": customer_id}, credentials, upsert=True)

    async def password_hash(self, customer_id: str) -> Credentials | None:
        return cast(Credentials | None, await self.credentials.find_one({"_id": customer_id}))

    # erasure

    async def erase_personal_data(self, customer_id: str, email_keys: list[str]) -> None:
        """Everything held about the person except the versioned record itself."""
        keys = [o["_id"] async for o in self.orders.find({"customer_id": customer_id}, projection={"_id": 1})]
        await self.adjustments.delete_many({"customer_id": customer_id})
        if keys:  # and any not attached yet (erasure is rare: a scan is acceptable here)
            await self.adjustments.delete_many({"order_key": {"$in": keys}})
        await self.orders.delete_many({"customer_id": customer_id})
        await self.notes.delete_many({"customer_id": customer_id})
        await self.credentials.delete_many({"_id": customer_id})
        await self.memberships.delete_many({"customer_id": customer_id})
        await self.pd_parts.delete_many({"customer_id": customer_id})  # exports hold the same data
        await self.verifications.delete_many({"customer_id": customer_id})
        if email_keys:
            await self.consents.delete_many({"_id": {"$in": email_keys}})
        await self.emails.delete_many({"customer_id": customer_id})

    # personal data requests (GDPR exports)

    def personal_data_outbox(self) -> OutboxSource:
        # A request record is the outbox of its one event; records stay (they are the requests).
        return OutboxSource(self.pd_requests, ordered=False)

    async def add_personal_data_request(
        self, request: PersonalDataRequest, events: list[dict[str, Any]]
    ) -> None:
        """The request and its events in one insert (the outbox)."""
        await self.pd_requests.insert_one({**request, **pending(events)})
        self._notify()

    async def personal_data_request(self, request_id: str) -> PersonalDataRequest | None:
        doc = await self.pd_requests.find_one(
            {"_id": request_id}, projection={"outbox": 0, "published": 0, "relay": 0, "live": 0}
        )
        return cast(PersonalDataRequest | None, doc)

    async def add_personal_data_part(self, part: PersonalDataPart) -> bool:
        """False: this service's part of this request was stored before (kept as it was)."""
        return await insert_once(self.pd_parts, part)

    async def personal_data_parts(self, request_id: str) -> list[PersonalDataPart]:
        return cast(list[PersonalDataPart], await self.pd_parts.find({"request_id": request_id}).to_list())

    # erasure requests

    async def claim_open_erasure(self, claim: OpenErasure) -> str | None:
        """None: the claim is ours; else the id of the customer's open erasure request."""
        if await insert_once(self.erasure_open, claim):
            return None
        existing = await self.erasure_open.find_one({"_id": claim["_id"]})
        if existing is None:  # released in between
            return await self.claim_open_erasure(claim)
        return cast(str, existing["request_id"])

    async def release_open_erasure(self, customer_id: str, request_id: str) -> None:
        await self.erasure_open.delete_one({"_id": customer_id, "request_id": request_id})

    async def open_erasures(self) -> list[OpenErasure]:
        """Every open erasure (a small collection: one per customer awaiting erasure)."""
        return cast(list[OpenErasure], await self.erasure_open.find({}).to_list())

    def erasure_outboxes(self) -> list[OutboxSource]:
        """customer.erasure.scheduled rides on the request, .cancelled on its outcome."""
        return [
            OutboxSource(self.erasures, ordered=False),
            OutboxSource(self.erasure_outcomes, ordered=False),
        ]

    async def add_erasure(self, request: ErasureRequest, events: list[dict[str, Any]]) -> None:
        await self.erasures.insert_one({**request, "recorded_at": request["requested_at"], **pending(events)})
        self._notify()

    async def erasure(self, request_id: str) -> ErasureRequest | None:
        return cast(
            ErasureRequest | None, await self.erasures.find_one({"_id": request_id}, projection=_NOT_OUTBOX)
        )

    async def erasures_of(self, customer_id: str) -> list[ErasureRequest]:
        found = self.erasures.find({"customer_id": customer_id}, projection=_NOT_OUTBOX)
        return cast(list[ErasureRequest], await found.to_list())

    async def all_erasures(self) -> list[ErasureRequest]:
        """Every erasure request (a staff list: a few a month, read whole)."""
        return cast(list[ErasureRequest], await self.erasures.find({}, projection=_NOT_OUTBOX).to_list())

    async def decide_erasure(
        self, outcome: ErasureOutcome, events: list[dict[str, Any]] | None = None
    ) -> ErasureOutcome:
        """The outcome of the request: this one if it was first, else the one recorded before.
        `events` go out only with the outcome that was first."""
        doc = {**outcome, "recorded_at": outcome["at"], **pending(events or [])}
        if await insert_once(self.erasure_outcomes, doc):
            self._notify()
            return outcome
        found = await self.erasure_outcomes.find_one({"_id": outcome["_id"]}, projection=_NOT_OUTBOX)
        return cast(ErasureOutcome, found)

    async def erasure_outcome(self, request_id: str) -> ErasureOutcome | None:
        found = await self.erasure_outcomes.find_one({"_id": request_id}, projection=_NOT_OUTBOX)
        return cast(ErasureOutcome | None, found)

    async def erasure_outcomes_of(self, request_ids: list[str]) -> dict[str, ErasureOutcome]:
        found = await asyncio.gather(*(self.erasure_outcome(r) for r in request_ids))
        return {o["_id"]: o for o in found if o is not None}

    async def mark_erasure_done(self, done: ErasureDone) -> None:
        await insert_once(self.erasure_done, done)

    async def erasure_done_of(self, request_ids: list[str]) -> dict[str, ErasureDone]:
        found = await asyncio.gather(*(self.erasure_done.find_one({"_id": r}) for r in request_ids))
        return {d["_id"]: cast(ErasureDone, d) for d in found if d is not None}

    async def add_erasure_confirmation(self, confirmation: ErasureConfirmation) -> bool:
        return await insert_once(self.erasure_confirmations, confirmation)

    async def erasure_confirmations_of(self, customer_id: str) -> list[ErasureConfirmation]:
        docs = await self.erasure_confirmations.find({"customer_id": customer_id}).to_list()
        return cast(list[ErasureConfirmation], docs)

    # registrations waiting for e-mail verification

    def verification_outbox_source(self) -> OutboxSource:
        async def forget(batch: list[dict[str, Any]]) -> None:
            # The event holds the token: once published, no copy stays here.
            await self.verification_outbox.bulk_write(
                [DeleteOne({"_id": d["_id"]}) for d in batch], ordered=False
            )

        return OutboxSource(self.verification_outbox, after_publish=forget, prunable=True, ordered=False)

    async def add_verification(self, verification: Verification, events: list[dict[str, Any]]) -> None:
        await self.verifications.insert_one(dict(verification))
        await self.verification_outbox.insert_one(
            {"_id": verification["_id"], "recorded_at": datetime.now(UTC), **pending(events)}
        )
        self._notify()

    async def verification(self, token_sha256: str) -> Verification | None:
        return cast(Verification | None, await self.verifications.find_one({"_id": token_sha256}))

    async def use_verification(self, use: VerificationUse) -> bool:
        """True: this call used the token (it was unused)."""
        return await insert_once(self.verification_uses, use)

    async def forget_verification(self, token_sha256: str) -> None:
        await self.verifications.delete_one({"_id": token_sha256})

    # merges of two customer records (staff)

    async def add_merge(self, merge: CustomerMerge) -> bool:
        return await insert_once(self.merges, merge)

    async def merge_of(self, merged_id: str) -> CustomerMerge | None:
        return cast(CustomerMerge | None, await self.merges.find_one({"_id": merged_id}))

    async def merges_into(self, kept_id: str) -> list[CustomerMerge]:
        docs = await self.merges.find({"kept_id": kept_id}).to_list()
        return sorted(cast(list[CustomerMerge], docs), key=lambda m: m["started_at"], reverse=True)

    async def complete_merge(self, merge: CustomerMerge) -> None:
        """Its one writer is the merge that claimed it."""
        await self.merges.replace_one({"_id": merge["_id"]}, dict(merge))

    async def repoint_email(self, email_key: str, from_id: str, to_id: str) -> None:
        """Orders with the merged record's e-mail land on the kept record from now on."""
        await self.emails.update_one(
            {"_id": email_key, "customer_id": from_id}, {"$set": {"customer_id": to_id}}
        )

    async def move_records(self, from_id: str, to_id: str) -> tuple[int, int]:
        """The orders (with their cancellations and refunds) and notes of one customer become
        another's. Returns (orders, notes) moved."""
        moved = {"$set": {"customer_id": to_id}}
        orders = await self.orders.update_many({"customer_id": from_id}, moved)
        await self.adjustments.update_many({"customer_id": from_id}, moved)
        notes = await self.notes.update_many({"customer_id": from_id}, moved)
        return orders.modified_count, notes.modified_count

    async def forget_merged(self, customer_id: str) -> None:
        """What stays of a merged record that is its own: password, group facts, exports, pending
        registrations."""
        await self.credentials.delete_many({"_id": customer_id})
        await self.memberships.delete_many({"customer_id": customer_id})
        await self.pd_parts.delete_many({"customer_id": customer_id})
        await self.verifications.delete_many({"customer_id": customer_id})


def _newest_first(m: Membership) -> tuple[int, datetime, str]:
    """Which statement about a (group, customer) pair is the latest: the pair's version (events
    without one, published before versions existed, are older than every versioned one), then
    the event time."""
    return (m.get("version") or 0, m["at"], m["_id"])
