"""The HTTP request and response models of e-mail: templates, messages, campaigns, automations."""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from crm_contracts.types import UtcDatetime

Name = Annotated[str, Field(min_length=1, max_length=200)]
Id = Annotated[str, Field(min_length=1, max_length=200)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TemplateIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Winter sale 2026",
                    "kind": "marketing",
                    "topic": "offers",
                    "subject": "{{ customer.first_name or 'Hello' }}, our winter sale starts today",
                    "html": '<h1>Winter sale</h1><p>Up to 30% off at {{ shop_name }} until 31 December.</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · <a href="{{ preferences_url }}">Your preferences</a></p>',
                    "text": "Winter sale\n\nUp to 30% off at {{ shop_name }} until 31 December.\n\nUnsubscribe: {{ unsubscribe_url }}\nYour preferences: {{ preferences_url }}\n",
                }
            ]
        }
    )

    name: Name
    kind: Literal["marketing", "transactional"] = Field(
        description="marketing: only with consent, counted against the frequency limit, with an "
        "unsubscribe link; transactional: order mails, account mails"
    )
    topic: Literal["newsletter", "offers", "product_news"] | None = Field(
        default=None,
        description="Marketing: the consent topic a recipient must have granted by e-mail (default newsletter)",
    )
    subject: Annotated[str, Field(min_length=1, max_length=500)]
    html: Annotated[str, Field(max_length=200_000)] = ""
    text: Annotated[str, Field(max_length=200_000)] = ""

    def parts(self) -> dict[str, str]:
        return {"subject": self.subject, "html": self.html, "text": self.text}


class TemplateOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "tpl_3c5e7a9b1d2f4e6a",
                    "name": "Winter sale 2026",
                    "kind": "marketing",
                    "topic": "offers",
                    "subject": "{{ customer.first_name or 'Hello' }}, our winter sale starts today",
                    "html": '<h1>Winter sale</h1><p>Up to 30% off at {{ shop_name }} until 31 December.</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a> · <a href="{{ preferences_url }}">Your preferences</a></p>',
                    "text": "Winter sale\n\nUp to 30% off at {{ shop_name }} until 31 December.\n\nUnsubscribe: {{ unsubscribe_url }}\nYour preferences: {{ preferences_url }}\n",
                    "builtin": False,
                    "created_at": "2026-12-01T10:00:00Z",
                    "updated_at": "2026-12-01T10:00:00Z",
                }
            ]
        }
    )

    id: str
    name: str
    kind: str
    topic: str | None = None
    subject: str
    html: str
    text: str
    builtin: bool
    created_at: datetime
    updated_at: datetime


class TemplatesPage(BaseModel):
    items: list[TemplateOut]
    next_cursor: str | None


class PreviewIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"customer_id": "cus_7d3f9a2c5b8e4d1fa6c0b2d9e4f71a35"}]}
    )

    customer_id: Id | None = Field(
        default=None, description="Render with this customer's data; default: a sample"
    )


class PreviewOut(BaseModel):
    subject: str
    html: str
    text: str


class MessageIn(Strict):
    model_config = ConfigDict(json_schema_extra={"examples": [{"template_id": "tpl_welcome"}]})

    template_id: Id


class MessageOut(BaseModel):
    id: str
    customer_id: str | None
    email: str
    kind: str
    template_id: str
    campaign_id: str | None
    subject: str
    status: Literal["queued", "sent", "failed", "bounced", "skipped"]
    reason: str | None
    attempts: int
    created_at: datetime
    updated_at: datetime
    sent_at: datetime | None


class MessagesList(BaseModel):
    items: list[MessageOut]


class CampaignIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "Winter sale 2026 – VIP customers",
                    "template_id": "tpl_special_offer",
                    "segment_id": "seg_4e6a8c0b2d1f4a3c5e7b9d1f3a5c7e9b",
                    "scheduled_at": "2026-12-05T09:00:00Z",
                }
            ]
        }
    )

    name: Name
    template_id: Id = Field(description="A marketing template")
    segment_id: Id | None = Field(default=None, description="Everyone in this segment at launch")
    customer_ids: list[Id] | None = Field(default=None, min_length=1, description="Or these customers")
    scheduled_at: UtcDatetime | None = Field(default=None, description="UTC; default: now")


class CampaignOut(BaseModel):
    id: str
    name: str
    template_id: str
    segment_id: str | None
    customer_ids: list[str] | None
    scheduled_at: datetime
    status: Literal["scheduled", "sending", "completed"]
    created_at: datetime
    launched_at: datetime | None = None
    completed_at: datetime | None = None
    audience: int = Field(description="Before launch: customers it would reach now; after: messages queued")
    not_found: int | None = Field(default=None, description="Selected customers this service does not know")
    counts: dict[str, int] = Field(description="Messages by status: queued, sent, failed, bounced, skipped")


class SegmentAudienceOut(BaseModel):
    segment_id: str
    customers: int


class CampaignsPage(BaseModel):
    items: list[CampaignOut]
    next_cursor: str | None


class AutomationIn(Strict):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"enabled": True, "template_id": "tpl_review_request", "delay_days": 7}]
        }
    )

    enabled: bool
    template_id: Id | None = None
    delay_days: float | None = Field(
        default=None, gt=0, le=365, description="review_request: days after the order (fractions allowed)"
    )
    segment_id: Id | None = Field(
        default=None, description="re_engagement: the segment whose new members get it"
    )


class AutomationOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "review_request",
                    "enabled": True,
                    "template_id": "tpl_review_request",
                    "delay_days": 7,
                    "updated_at": "2026-12-01T10:00:00Z",
                }
            ]
        }
    )

    name: str
    enabled: bool
    template_id: str
    delay_days: float | None = None
    segment_id: str | None = None
    updated_at: datetime


class AutomationsList(BaseModel):
    items: list[AutomationOut]


class ContactOut(BaseModel):
    customer_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    marketing_consent: bool
    marketing_sent_in_window: int = Field(description="Marketing mails counted in the current rolling window")
