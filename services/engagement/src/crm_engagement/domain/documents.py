"""The stored documents of the engagement service (collections in store.py)."""

from datetime import datetime
from typing import Any, Literal, NotRequired, TypedDict

MailKind = Literal["marketing", "transactional"]
MessageStatus = Literal["queued", "sent", "failed", "bounced", "skipped"]
CampaignStatus = Literal["scheduled", "sending", "completed"]


class ContactDoc(TypedDict):
    """What this service knows of a customer, from customer.* events."""

    _id: str  # customer id
    email: str | None
    email_key: str | None
    first_name: str | None
    last_name: str | None
    has_account: bool
    categories: list[str]
    profile_subscribed: bool  # email_subscribed of the newest customer state seen
    consent_at: NotRequired[datetime | None]  # when that consent was stated (marketing_consent.at)
    version: int
    deleted: bool


class ConsentStatement(TypedDict):
    """One statement of marketing consent for an e-mail; the newest one decides. Inserted
    only, never updated: _id is the event id that carried it (or the unsubscribe's event)."""

    _id: str
    email_key: str
    subscribed: bool
    at: datetime
    source: str  # newsletter-event, customer-profile, unsubscribe-link
    recorded_at: datetime
    outbox: list[dict[str, Any]]
    published: bool


class TemplateDoc(TypedDict):
    _id: str
    name: str
    kind: MailKind
    topic: NotRequired[str | None]  # marketing: newsletter (default), offers, product_news
    subject: str
    html: str
    text: str
    builtin: bool
    created_at: datetime
    updated_at: datetime


class MessageDoc(TypedDict):
    """One mail to one recipient: the durable record the sender works from (an outbox of mail).
    Rendered when queued, so what is sent is what was decided. Updated only by the sender that
    holds the claim of its current attempt."""

    _id: str  # msg_ + hash of `key`
    key: str  # the cause: one mail per key, ever
    customer_id: str | None
    email: str
    kind: MailKind
    template_id: str
    campaign_id: str | None
    subject: str
    html: str
    text: str
    unsubscribe_url: str | None
    status: MessageStatus
    reason: str | None
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None
    topic: NotRequired[str | None]  # marketing: the consent topic it needs (default newsletter)
    reply_to: NotRequired[str | None]  # Reply-To (a staff reply on a ticket: the support address)


class SendClaim(TypedDict):
    """The claim of one attempt at sending one message: {_id: "<message id>:<attempt>"}."""

    _id: str
    message_id: str
    at: datetime


class FrequencySlot(TypedDict):
    """One marketing mail counted against a customer's limit: {_id: "<customer id>:<seq>"};
    the unique sequence is what makes the rolling-window limit exact under concurrency."""

    _id: str
    customer_id: str
    seq: int
    at: datetime
    message_id: str


class SegmentMember(TypedDict):
    """One segment.member.joined or .left, inserted only (_id: the event id). Handlers run side
    by side, so a join and the leave after it may be stored in either order: the event time
    (in microseconds) decides which is current."""

    _id: str
    segment_id: str
    customer_id: str
    joined: bool
    at_us: int


class CampaignDoc(TypedDict):
    _id: str
    name: str
    template_id: str
    segment_id: str | None
    customer_ids: list[str] | None
    scheduled_at: datetime
    status: CampaignStatus
    created_at: datetime
    launched_at: NotRequired[datetime]
    completed_at: NotRequired[datetime]
    recipients: NotRequired[int]
    not_found: NotRequired[int]


class AutomationDoc(TypedDict):
    _id: str  # welcome, thank_you, review_request, re_engagement
    enabled: bool
    template_id: str
    updated_at: datetime
    delay_days: NotRequired[float]  # review_request: this long after the order
    segment_id: NotRequired[str | None]  # re_engagement: on joining this segment


class ReviewRequest(TypedDict):
    """A review request due some days after an order: {_id: "<source>:<order id>"}, inserted
    once per order (a redelivered order.placed finds it there); the periodic job queues its
    mail when due (message `review-request:<_id>`, once) and marks it done."""

    _id: str
    email: str
    customer_id: str | None
    first_name: str | None
    last_name: str | None
    order: dict[str, Any]  # the template's `order` variable, as at the order
    due_at: datetime
    status: Literal["waiting", "queued", "skipped"]


class SecretDoc(TypedDict):
    _id: str
    value: str
