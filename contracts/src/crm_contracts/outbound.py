"""Events published by the services (docs/contract.md §1.2). Each carries the entity's new state,
or its id for deletions. Services may add fields; consumers ignore what they don't know."""

from datetime import date
from typing import Any, Literal

from pydantic import Field

from crm_contracts.types import Contract, CurrencyCode, Money, UtcDatetime


class CurrencyStats(Contract):
    currency: CurrencyCode
    orders: int = Field(ge=0)
    total_spent: int = Field(description="Minor units, net of refunds")
    average_order: int = Field(description="Minor units, rounded down")


class CustomerStats(Contract):
    number_of_orders: int = 0
    first_order_at: UtcDatetime | None = None
    last_order_at: UtcDatetime | None = None
    per_currency: list[CurrencyStats] = Field(default_factory=list)
    categories_purchased: list[str] = Field(default_factory=list)
    products_purchased: list[str] = Field(default_factory=list)


class CustomerState(Contract):
    """`data` of customer.created / customer.updated / customer.registered."""

    id: str
    version: int = Field(ge=1, description="Incremented by every change; consumers drop older")
    email: str
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    company: str | None = None
    has_account: bool
    status: Literal["enabled", "inactive"] = "enabled"
    gender: Literal["female", "male", "non_binary", "other", "prefer_not_to_say"] | None = None
    birthday: date | None = Field(default=None, description="ISO date (YYYY-MM-DD)")
    tags: list[str] = Field(default_factory=list)
    email_subscribed: bool = False
    marketing_consent: "MarketingConsentState | None" = Field(
        default=None,
        description="The consent behind email_subscribed: its state and when and where it was last "
        "stated (the same in every version until it changes; null from older publishers)",
    )
    sales_agent_id: str | None = Field(default=None, description="The customer's sales agent, if any")
    country: str | None = None
    city: str | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime
    stats: CustomerStats = Field(default_factory=CustomerStats)
    referred_by: str | None = Field(
        default=None, description="The referral code the customer arrived with, given at creation"
    )
    contact_preferences: list["ConsentPreference"] = Field(
        default_factory=list,
        description="Consent per topic and channel from the preference centre (preferences.updated)",
    )
    join_group_ids: list[str] = Field(
        default_factory=list,
        description="customer.created only: the groups asked for at creation; the groups service "
        "adds these memberships and announces them with group.members.added",
    )


class MarketingConsentState(Contract):
    state: Literal["subscribed", "unsubscribed", "not_set"]
    at: UtcDatetime | None = Field(default=None, description="When it was stated; null: never")
    source: str | None = Field(default=None, description="Where it was stated")


class CustomerDeleted(Contract):
    """`data` of customer.deleted: the id only, never personal data."""

    id: str
    version: int | None = None


class CustomerMerged(Contract):
    """`data` of customer.merged (customers): staff merged the record `merged_id` into `id`. The
    merged record is gone here (its orders, notes, tasks, addresses and tags are `id`'s now, and
    orders with its e-mail land on `id`); consumers move what they hold of `merged_id` to `id`."""

    id: str = Field(description="The record kept")
    merged_id: str = Field(description="The record merged into it, which no longer exists")
    version: int | None = Field(default=None, description="The merged record's last version")


class CustomerErasureChanged(Contract):
    """`data` of customer.erasure.scheduled / customer.erasure.cancelled (customers): staff
    scheduled the erasure of a customer's personal data after a grace period, or cancelled it
    before it was carried out. Carried out, it is announced as customer.deleted."""

    request_id: str
    customer_id: str
    status: Literal["scheduled", "cancelled"]
    requested_at: UtcDatetime
    due_at: UtcDatetime = Field(description="When it is carried out unless cancelled before")
    at: UtcDatetime = Field(description="When it was scheduled or cancelled")


class CustomerVerificationRequested(Contract):
    """`data` of customer.verification.requested (customers): someone registered with the
    e-mail of a guest; the storefront e-mails `token` to that address, and the guest's history
    becomes the account's only when the token comes back (`POST /v1/customers/verify`)."""

    customer_id: str = Field(description="The guest whose history the account takes over once verified")
    email: str
    token: str = Field(description="Single use; only its hash is stored")
    expires_at: UtcDatetime


class PersonalDataRequested(Contract):
    """`data` of personal_data.requested (customers): a staff member asked for everything the
    CRM holds about one person (GDPR art. 15). Every service answers with personal_data.collected."""

    request_id: str
    customer_id: str
    requested_at: UtcDatetime


class PersonalDataCollected(Contract):
    """`data` of personal_data.collected (any service): one service's part of an export, as
    JSON; the customers service assembles the parts into one document."""

    request_id: str
    customer_id: str
    service: str = Field(description="The answering service: customers, groups, ledger...")
    data: dict[str, Any] = Field(description="What this service holds about the person")
    collected_at: UtcDatetime


class PersonalDataErased(Contract):
    """`data` of personal_data.erased (any service): the service erased or anonymised what it
    held about a deleted customer (after customer.deleted); the customers service records it
    on the erasure."""

    customer_id: str
    service: str
    erased: dict[str, int] = Field(
        default_factory=dict, description="What was erased or anonymised: documents per kind"
    )
    at: UtcDatetime


class TaskState(Contract):
    """`data` of task.created / task.updated: a task about a customer (customers service)."""

    id: str
    version: int = Field(ge=1, description="Incremented by every change; consumers drop older")
    customer_id: str
    title: str
    notes: str | None = None
    due_at: UtcDatetime
    assignee_id: str | None = Field(default=None, description="The sales agent it is assigned to")
    status: Literal["open", "done"]
    completed_at: UtcDatetime | None = None
    created_at: UtcDatetime
    updated_at: UtcDatetime


class TaskDeleted(Contract):
    """`data` of task.deleted (also when its customer was erased): ids only."""

    id: str
    customer_id: str
    version: int


class GroupState(Contract):
    """`data` of group.created / group.updated."""

    id: str
    version: int = Field(ge=1)
    name: str
    description: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    member_count: int = 0
    discount_percent: int | None = Field(
        default=None, ge=0, le=100, description="Whole percent off for the group's members"
    )
    price_tier: str | None = Field(default=None, description="Named price list, e.g. wholesale")
    priority: int = Field(
        default=0, description="Decides between groups: highest priority, then best discount"
    )
    payment_terms_days: int | None = Field(
        default=None, ge=0, description="Net days a member has to pay an invoice (net 30); null: none"
    )
    credit_limits: list[Money] = Field(
        default_factory=list,
        description="Per currency, how far below zero a member's balance may go (minor units)",
    )
    created_at: UtcDatetime | None = None
    updated_at: UtcDatetime | None = None


class GroupPrice(Contract):
    """One entry of a group's price list: a fixed `amount` for one SKU in one currency, or
    `percent_off` for one SKU or every SKU (`sku` null), in one currency or every one."""

    id: str
    group_id: str
    sku: str | None = None
    currency: CurrencyCode | None = None
    amount: int | None = Field(default=None, ge=0, description="Minor units")
    percent_off: int | None = Field(default=None, ge=0, le=100, description="Whole percent")
    starts_at: UtcDatetime | None = Field(default=None, description="Inclusive; null: always began")
    ends_at: UtcDatetime | None = Field(default=None, description="Exclusive; null: never ends")
    created_at: UtcDatetime | None = None


class GroupPricingUpdated(Contract):
    """`data` of group.pricing.updated: one entry added to or removed from a group's price
    list. A group's deletion ends its price list without this event (group.deleted says it)."""

    group_id: str
    group_name: str
    change: Literal["added", "removed"]
    price: GroupPrice


class GroupDeleted(Contract):
    """`data` of group.deleted: its memberships, pricing and metadata went with it; the
    customers themselves are untouched. No group.members.removed follows for its members."""

    id: str
    name: str | None = None
    members_removed: int | None = Field(default=None, description="Memberships that ended")


class GroupMembersChanged(Contract):
    """`data` of group.members.added / group.members.removed: only the ids that changed."""

    group_id: str
    group_name: str
    customer_ids: list[str]
    versions: list[int] | None = Field(
        default=None,
        description="The version of each pair's change, in the order of customer_ids: the "
        "(group, customer) pair's membership version, 1 at its first add and one more with every "
        "add or remove of that pair. A consumer keeps the highest it applied per pair and drops "
        "an older change. A list, not a map by customer id: customer ids are no safe field names "
        "in stored documents. Absent from events published before versions existed",
    )


class LedgerEntryRecorded(Contract):
    id: str
    customer_id: str
    currency: CurrencyCode
    kind: str
    amount: int = Field(description="Signed minor units: credits positive, debits negative")
    balance_after: int
    sequence: int
    order_id: str | None = None
    caused_by: str | None = None
    at: UtcDatetime
    available_after: int | None = Field(default=None, description="Balance minus active holds")
    hold_id: str | None = None
    expires_at: UtcDatetime | None = Field(default=None, description="Of an expiring funding")


class LedgerHoldChanged(Contract):
    """`data` of ledger.hold.placed / captured / voided / expired (two-phase debit)."""

    id: str
    customer_id: str
    currency: CurrencyCode
    amount: int = Field(description="Minor units reserved")
    status: Literal["active", "captured", "voided", "expired"]
    expires_at: UtcDatetime
    order_id: str | None = None
    captured_amount: int | None = None
    available_after: int
    at: UtcDatetime


class LedgerDebitRejected(Contract):
    customer_id: str
    currency: CurrencyCode
    amount: int
    available: int
    order_id: str | None = None
    reason: str


class RewardCouponIssued(Contract):
    code: str
    customer_id: str
    kind: Literal["amount", "percentage"]
    value: int = Field(description="Minor units for amount coupons; whole percent otherwise")
    currency: CurrencyCode | None = None
    expires_at: UtcDatetime | None = None
    source: Literal["points", "birthday", "referral"] | None = Field(
        default=None, description="Why it was issued: points reaching a threshold, a birthday..."
    )


class ReferralConverted(Contract):
    """A referred customer's first order: the referrer and the referee earn their rewards."""

    referrer_id: str
    referee_id: str
    code: str
    order_id: str
    at: UtcDatetime


class RewardPointsReversed(Contract):
    """Reward points taken back because an order was refunded (in proportion) or cancelled.
    Never below zero: when the balance lacks them, unused coupons that points paid for are
    revoked first (`revoked_coupons`) and their points taken instead; `points` may be less than
    `requested` when they were spent on coupons already used."""

    customer_id: str
    order_id: str
    cause: Literal["refund", "cancellation"]
    refund_id: str | None = None
    requested: int = Field(ge=0, description="What the order's share of its points comes to")
    points: int = Field(ge=0, description="What was taken back (the balance never goes below 0)")
    points_after: int = Field(ge=0)
    reason: str = Field(description="Why, in words")
    revoked_coupons: list[str] = Field(
        default_factory=list, description="Codes of the unused coupons revoked to cover the reversal"
    )
    at: UtcDatetime


class SegmentState(Contract):
    id: str
    version: int = Field(ge=1)
    name: str
    rule: str


class SegmentDeleted(Contract):
    id: str


class SegmentMembership(Contract):
    """What marketing systems consume (docs/contract.md §1.2)."""

    segment_id: str
    segment_name: str
    customer_id: str
    email: str | None = None
    email_subscribed: bool | None = None


class ReviewReply(Contract):
    body: str
    at: UtcDatetime


class ReviewPublished(Contract):
    """`data` of review.published (engagement): a product review a moderator published, as a
    storefront shows it; sent again, with a higher `version`, whenever a published review
    changes (a staff reply). No e-mail: `author_name` is the name the customer chose to show."""

    id: str
    version: int = Field(ge=1, description="Incremented by every change; consumers drop older")
    product_id: str
    sku: str | None = None
    customer_id: str | None = None
    author_name: str | None = Field(default=None, description="Display name given with the review")
    rating: int = Field(ge=1, le=5)
    title: str
    body: str
    reply: ReviewReply | None = Field(default=None, description="The shop's answer, if any")
    submitted_at: UtcDatetime
    published_at: UtcDatetime
    updated_at: UtcDatetime


class ReviewWithdrawn(Contract):
    """`data` of review.withdrawn (engagement): a published review was taken down by a
    moderator; storefronts stop showing it. Not sent for reviews never published."""

    id: str
    version: int = Field(ge=1, description="Incremented by every change; consumers drop older")
    product_id: str
    sku: str | None = None
    at: UtcDatetime


class TicketState(Contract):
    """`data` of ticket.created / ticket.updated (engagement): a support ticket's state after a
    change (status, priority, assignee, order links, a message added, an erasure), so that a
    storefront or a helpdesk can follow it. The thread's messages come as ticket.message.added."""

    id: str
    version: int = Field(ge=1, description="Incremented by every change; consumers drop older")
    subject: str
    customer_id: str | None = None
    email: str | None = Field(default=None, description="The customer's address (null once erased)")
    status: Literal["open", "pending", "resolved", "closed"]
    priority: Literal["low", "normal", "high", "urgent"]
    assignee_id: str | None = Field(default=None, description="The sales agent it is assigned to")
    order_ids: list[str] = Field(default_factory=list)
    channel: Literal["staff", "inbound"]
    first_response_due_at: UtcDatetime
    first_response_at: UtcDatetime | None = None
    last_message_at: UtcDatetime | None = None
    erased: bool = Field(
        default=False, description="The customer was erased: subject, e-mail and the thread's texts are gone"
    )
    created_at: UtcDatetime
    updated_at: UtcDatetime


class TicketMessageAdded(Contract):
    """`data` of ticket.message.added (engagement): a message joined a ticket's thread, from the
    customer (inbound) or from staff (outbound, mailed to the customer)."""

    ticket_id: str
    ticket_version: int = Field(ge=1, description="The ticket's version that added the message")
    message_id: str
    direction: Literal["inbound", "outbound"]
    author: str = Field(description="The staff member for outbound messages, `customer` for inbound")
    body: str
    at: UtcDatetime


class ConsentPreference(Contract):
    topic: Literal["newsletter", "offers", "product_news"]
    channel: Literal["email", "sms"]
    granted: bool
    at: UtcDatetime | None = Field(default=None, description="When it was stated; null: never (not granted)")
    source: str | None = Field(default=None, description="Where: preference-centre, newsletter-event...")


class PreferencesUpdated(Contract):
    """`data` of preferences.updated (engagement): a customer changed their consent per topic
    and channel in the preference centre. The newsletter by e-mail also goes out as
    newsletter.subscribed / newsletter.unsubscribed (what the customers service records)."""

    customer_id: str
    email: str | None = None
    changed: list[ConsentPreference] = Field(description="What this change set")
    preferences: list[ConsentPreference] = Field(description="Every topic and channel after it")
    at: UtcDatetime


class MessageOutcome(Contract):
    """`data` of message.sent / message.failed (engagement): one mail to one recipient was
    handed to the SMTP server, or given up (after its retries, or refused for good), with the
    reason. Mails skipped before sending (no consent, frequency limit) announce nothing."""

    message_id: str
    customer_id: str | None = None
    kind: Literal["transactional", "marketing"]
    template_id: str
    campaign_id: str | None = None
    status: Literal["sent", "failed"]
    reason: str | None = Field(default=None, description="Why it failed")
    attempts: int = Field(ge=1)
    at: UtcDatetime


class CampaignCompleted(Contract):
    """`data` of campaign.completed (engagement): every mail of a campaign is done (sent,
    failed or skipped); the counts are final."""

    campaign_id: str
    name: str
    segment_id: str | None = None
    recipients: int = Field(ge=0, description="Mails queued when it was launched")
    counts: dict[str, int] = Field(description="Mails per status: sent, failed, skipped...")
    launched_at: UtcDatetime | None = None
    completed_at: UtcDatetime


class SurveyResponseRecorded(Contract):
    """`data` of survey.response.recorded (engagement): a customer answered an NPS or
    satisfaction survey (once per survey and customer)."""

    survey_id: str
    customer_id: str
    score: int = Field(ge=0, le=10)
    category: Literal["promoter", "passive", "detractor"] = Field(
        description="NPS: 9-10 promoter, 7-8 passive, 0-6 detractor"
    )
    comment: str | None = None
    at: UtcDatetime
