"""What every document the customers service stores holds, written once (database
crm_customers; store.py says which collection holds which)."""

from datetime import date, datetime
from typing import Any, Literal, NotRequired

# pydantic reads some of these (as response types) and needs typing_extensions' TypedDict on 3.11.
from typing_extensions import TypedDict

Status = Literal["enabled", "inactive"]
Gender = Literal["female", "male", "non_binary", "other", "prefer_not_to_say"]
AddressType = Literal["shipping", "billing"]
ConsentState = Literal["subscribed", "unsubscribed", "not_set"]
MetaValue = str | int | float | bool


class MarketingConsent(TypedDict):
    state: ConsentState
    at: datetime | None
    source: str | None  # who stated it: an event source, or "api"


class OrderAddress(TypedDict):
    """An address as an order carries it (crm_contracts.inbound.Address)."""

    first_name: str | None
    last_name: str | None
    company: str | None
    line1: str
    line2: str | None
    city: str
    province: str | None
    postal_code: str | None
    country_code: str
    phone: str | None


class NewAddress(OrderAddress):
    """An address the API adds: an order's fields plus its type and whether it is the default."""

    type: AddressType
    is_default: bool


class Address(NewAddress):
    """One of the customer's addresses (in `Customer.addresses`)."""

    id: str
    created_at: datetime
    from_order: NotRequired[str]  # learned from this order (<source>|<order_id>)


class AddressChanges(TypedDict, total=False):
    """The fields of an address an edit sets (null clears an optional one)."""

    type: AddressType
    is_default: bool
    first_name: str | None
    last_name: str | None
    company: str | None
    line1: str
    line2: str | None
    city: str
    province: str | None
    postal_code: str | None
    country_code: str
    phone: str | None


class CurrencyStats(TypedDict):
    currency: str
    orders: int
    total_spent: int  # minor units, net of refunds
    average_order: int


class CustomerStats(TypedDict):
    """crm_contracts.outbound.CustomerStats, as stored."""

    number_of_orders: int
    first_order_at: datetime | None
    last_order_at: datetime | None
    per_currency: list[CurrencyStats]
    categories_purchased: list[str]
    products_purchased: list[str]


class ContactPreference(TypedDict):
    topic: str  # newsletter, offers, product_news
    channel: str  # email, sms
    granted: bool
    at: datetime | None
    source: str | None


class CustomerView(TypedDict):
    """The customer as the API and the events show it."""

    id: str
    version: int
    email: str
    first_name: str | None
    last_name: str | None
    phone: str | None  # E.164
    company: str | None
    gender: Gender | None
    birthday: str | None  # ISO date
    has_account: bool
    registered_at: datetime | None
    status: Status
    tags: list[str]
    email_subscribed: bool
    marketing_consent: MarketingConsent
    metadata: dict[str, MetaValue]
    addresses: list[Address]
    group_ids: list[str]
    sales_agent_id: NotRequired[str | None]  # the customer's sales agent (agents), if any
    referred_by: NotRequired[str | None]  # the referral code given at creation
    # consent per topic and channel, as the preference centre (engagement) last stated it
    contact_preferences: NotRequired[list[ContactPreference]]
    country: str | None  # the default shipping address's, else the latest order's
    city: str | None
    stats: CustomerStats
    created_at: datetime
    updated_at: datetime


class SearchKeys(TypedDict):
    """Lower-cased copies that prefix search ranges over and the name order sorts by."""

    email_key: str
    first_key: str | None
    last_key: str | None
    name_key: str | None
    name_sort: str


class Customer(CustomerView, SearchKeys):
    """customers {_id: customer id}: the newest version (versioned: customers_changes)."""

    _id: str
    spent: dict[str, int]  # total spent per currency
    spent_base: int  # total spent in CRM_BASE_CURRENCY, for sort=total_spent
    # How many orders and cancellations/refunds this version was derived from: storing one
    # more always changes the state, so its handler always commits (customers.Customers.sync).
    derived_from: NotRequired[int]
    join_group_ids: NotRequired[list[str]]  # asked for at creation; on customer.created only


class Profile(TypedDict, total=False):
    """Fields a new customer is given beyond its e-mail (stored form)."""

    first_name: str | None
    last_name: str | None
    phone: str | None
    company: str | None
    gender: Gender | None
    birthday: str | None
    tags: list[str]
    metadata: dict[str, MetaValue]
    status: Status
    email_subscribed: bool
    marketing_consent: MarketingConsent
    group_ids: list[str]
    sales_agent_id: str | None
    addresses: list[Address]
    referred_by: str | None
    join_group_ids: list[str]


class ProfileChanges(TypedDict, total=False):
    """What an HTTP request sets on a customer, as given (null clears an optional field;
    a null metadata value removes that key)."""

    email: str | None
    first_name: str | None
    last_name: str | None
    phone: str | None
    company: str | None
    gender: Gender | None
    birthday: date | None
    tags: list[str] | None
    metadata: dict[str, MetaValue | None] | None
    status: Status | None
    email_subscribed: bool | None
    sales_agent_id: str | None
    referred_by: str | None  # creation only
    join_group_ids: list[str]  # creation only


class OrderItem(TypedDict):
    sku: str
    name: str | None
    category: str | None
    quantity: int
    unit_price: int


class Order(TypedDict):
    """orders {_id: "<source>|<order_id>"}: an order.placed, stored once."""

    _id: str
    order_id: str
    source: str
    customer_id: str
    placed_at: datetime
    currency: str
    total: int
    items: list[OrderItem]
    shipping_address: OrderAddress | None
    billing_address: OrderAddress | None
    store_credit_used: int
    event_id: str
    address_learned: NotRequired[bool]  # its shipping address was looked at once


class Adjustment(TypedDict):
    """order_adjustments: a cancellation {_id: "<order key>|cancelled"} or a refund
    {_id: "<order key>|refund|<event id>"}, stored whether or not the order has arrived;
    `customer_id` is the order's customer once the order is known."""

    _id: str
    order_key: str
    kind: Literal["cancelled", "refunded"]
    at: datetime
    event_id: str
    customer_id: str | None
    amount: NotRequired[int]  # refunds only
    currency: NotRequired[str]
    to_store_credit: NotRequired[bool]


class EmailClaim(TypedDict):
    """customer_emails {_id: e-mail key}: who owns an e-mail."""

    _id: str
    customer_id: str


class Membership(TypedDict):
    """memberships {_id: "<group_id>|<customer_id>|<event id>"}: what one group event said."""

    _id: str
    group_id: str
    customer_id: str
    member: bool
    at: datetime
    version: NotRequired[int | None]  # the pair's version, from groups' events that carry one


class Note(TypedDict):
    """notes {_id: "note_<hex>"}: private, not part of the versioned state nor of its events."""

    _id: str
    customer_id: str
    body: str
    author: str | None
    created_at: datetime
    edited_at: NotRequired[datetime | None]  # the last edit of `body`
    edited_by: NotRequired[str | None]  # who made it


class Agent(TypedDict):
    """agents {_id: "agt_<hex>"}: a sales agent (a record of its own, not a login)."""

    _id: str
    name: str
    email: str
    email_key: str
    active: bool
    created_at: datetime
    updated_at: datetime
    calendar_token_sha256: str | None  # SHA-256 of the calendar feed's secret; None: no feed


class AgentEmailClaim(TypedDict):
    """agent_emails {_id: e-mail key}: which agent owns an e-mail (claimed by insert)."""

    _id: str
    agent_id: str


class AgentChanges(TypedDict, total=False):
    name: str
    email: str
    active: bool


TaskStatus = Literal["open", "done"]


class Task(TypedDict):
    """tasks {_id: "tsk_<hex>"}: something to do about a customer, by a time, maybe by an agent."""

    _id: str
    version: int  # versioned (tasks_changes): every change is an inserted (id, version) with its event
    customer_id: str
    title: str
    notes: str | None
    due_at: datetime  # UTC
    assignee_id: str | None  # an agent
    status: TaskStatus
    completed_at: datetime | None  # when it was marked done
    created_at: datetime
    updated_at: datetime


class TaskChanges(TypedDict, total=False):
    title: str
    notes: str | None
    due_at: datetime
    assignee_id: str | None
    status: TaskStatus


class ImportRow(TypedDict):
    """One customer of a CSV import, validated: what registering it would give it."""

    line: int  # in the file, the header being line 1
    email: str
    has_account: bool
    profile: ProfileChanges
    addresses: list[NewAddress]


class ImportProblem(TypedDict):
    line: int
    field: str | None
    message: str


ImportStatus = Literal["running", "done", "failed"]


class ImportJob(TypedDict):
    """customer_imports {_id: "imp_<hex>"}: an import and its progress (its only writer is the
    task running it)."""

    _id: str
    status: ImportStatus
    rows: int
    processed: int
    created: int
    existing: int  # e-mails that already had a customer: left unchanged
    failed: int
    problems: list[ImportProblem]  # rows that failed while importing (the first 1,000)
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class Credentials(TypedDict):
    """credentials {_id: customer id}: the Argon2id hash, kept out of the versioned state."""

    _id: str
    hash: str
    updated_at: datetime


class Consent(TypedDict):
    """Consent stated for an e-mail: consents {_id: e-mail key} when it is no customer yet."""

    state: Literal["subscribed", "unsubscribed"]
    at: datetime
    source: str


class StoredConsent(Consent):
    _id: str


class PublishedEvent(TypedDict):
    """The part of an event in a change's outbox that the history reads."""

    type: str


class CustomerChange(TypedDict):
    """customers_changes, as the history reads it (without `state`): a recorded version and
    the events it published (crm_servicekit.versioned)."""

    _id: str
    doc_id: str
    version: int
    recorded_at: datetime
    outbox: NotRequired[list[PublishedEvent]]


# personal data (GDPR): exports across every service, scheduled erasure


class PersonalDataRequest(TypedDict):
    """personal_data_requests {_id: "pdr_<hex>"}: staff asked for everything the CRM holds about
    a person. Inserted once with its personal_data.requested (the outbox), never updated: its
    status follows from the parts stored beside it."""

    _id: str
    customer_id: str
    requested_at: datetime
    requested_by: str | None  # X-CRM-Operator
    expected: list[str]  # the services whose part completes it (CRM_CUSTOMERS_PERSONAL_DATA_SERVICES)
    recorded_at: datetime


class PersonalDataPart(TypedDict):
    """personal_data_parts {_id: "<request id>|<service>"}: one service's answer, stored once."""

    _id: str
    request_id: str
    customer_id: str
    service: str
    data: dict[str, Any]
    collected_at: datetime
    received_at: datetime
    event_id: str


class ErasureRequest(TypedDict):
    """erasure_requests {_id: "era_<hex>"}: an erasure asked for, due after a grace period.
    Never updated: what became of it is in erasure_outcomes and erasure_done."""

    _id: str
    customer_id: str
    requested_at: datetime
    requested_by: str | None  # X-CRM-Operator
    grace_days: int
    due_at: datetime


class OpenErasure(TypedDict):
    """erasure_open {_id: customer id}: the one open erasure of a customer (claimed by insert;
    released when it is cancelled or carried out)."""

    _id: str
    request_id: str
    claimed_at: datetime


ErasureOutcomeKind = Literal["cancelled", "carrying_out"]


class ErasureOutcome(TypedDict):
    """erasure_outcomes {_id: request id}: whichever of a cancellation and the job inserts first
    decides what happens to the request (the unique key is the decision)."""

    _id: str
    outcome: ErasureOutcomeKind
    at: datetime
    by: str | None  # who cancelled (X-CRM-Operator), or "job"


class ErasureDone(TypedDict):
    """erasure_done {_id: request id}: the erasure was carried out."""

    _id: str
    customer_id: str
    at: datetime


class ErasureConfirmation(TypedDict):
    """erasure_confirmations {_id: "<customer id>|<service>"}: a personal_data.erased, stored once."""

    _id: str
    customer_id: str
    service: str
    erased: dict[str, int]
    at: datetime
    received_at: datetime


# registering with a guest's e-mail: verified before the guest's history is handed over


class GivenNote(TypedDict):
    body: str
    author: str | None


class Verification(TypedDict):
    """verifications {_id: SHA-256 of the token}: a registration waiting for its e-mail to be
    verified (the token itself is never stored, only sent once in its event)."""

    _id: str
    customer_id: str  # the guest whose history the account takes over
    email: str
    profile: Profile  # what the registration gave, stored form
    password_hash: str | None
    notes: list[GivenNote]
    addresses: list[NewAddress]
    requested_at: datetime
    expires_at: datetime


class VerificationUse(TypedDict):
    """verification_uses {_id: SHA-256 of the token}: the token was used (claimed by insert)."""

    _id: str
    customer_id: str
    at: datetime


class MergeMoved(TypedDict):
    """What a merge moved to the kept record."""

    orders: int
    notes: int
    tasks: int
    addresses: int
    tags: list[str]  # tags the kept record did not have


class CustomerMerge(TypedDict):
    """customer_merges {_id: the merged record's id}: the audit of a staff merge; its insert is
    the claim (a record is merged away once). Completed by its one writer, the merge itself."""

    _id: str
    kept_id: str
    merged_id: str
    merged_email: str
    merged_by: str | None  # X-CRM-Operator
    started_at: datetime
    completed_at: datetime | None
    moved: MergeMoved | None
