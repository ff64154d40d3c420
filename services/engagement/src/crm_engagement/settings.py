"""The engagement service's settings (environment variables). SMTP credentials come from the
environment only; the secret that signs unsubscribe links is generated once per installation
(stored in the service's database) unless CRM_ENGAGEMENT_LINK_SECRET sets it."""

from typing import Literal

from pydantic import Field

from crm_servicekit.settings import ServiceSettings


class EngagementSettings(ServiceSettings):
    http_port: int = Field(default=8005, validation_alias="CRM_HTTP_PORT")
    source: str = Field(default="/crm/engagement", validation_alias="CRM_EVENT_SOURCE")

    smtp_host: str = Field(default="127.0.0.1", validation_alias="CRM_SMTP_HOST")
    smtp_port: int = Field(default=1025, ge=1, le=65535, validation_alias="CRM_SMTP_PORT")
    smtp_security: Literal["none", "starttls", "tls"] = Field(
        default="none",
        validation_alias="CRM_SMTP_SECURITY",
        description="none (a local relay such as Mailpit), starttls (port 587) or tls (port 465)",
    )
    smtp_username: str | None = Field(default=None, validation_alias="CRM_SMTP_USERNAME")
    smtp_password: str | None = Field(default=None, validation_alias="CRM_SMTP_PASSWORD")
    smtp_timeout_seconds: float = Field(default=20.0, gt=0, validation_alias="CRM_SMTP_TIMEOUT_SECONDS")
    mail_from: str = Field(
        default="Shop <no-reply@shop.localhost>",
        validation_alias="CRM_MAIL_FROM",
        description="The From of every mail",
    )
    shop_name: str = Field(default="Shop", validation_alias="CRM_SHOP_NAME")
    public_url: str = Field(
        default="http://127.0.0.1:8005",
        validation_alias="CRM_ENGAGEMENT_PUBLIC_URL",
        description="Where customers reach this service: the base of unsubscribe links",
    )
    link_secret: str | None = Field(
        default=None,
        min_length=32,
        validation_alias="CRM_ENGAGEMENT_LINK_SECRET",
        description="Signs unsubscribe links; default: generated once and kept in the database",
    )

    send_every_seconds: float = Field(default=0.5, gt=0, validation_alias="CRM_ENGAGEMENT_SEND_EVERY_SECONDS")
    send_batch: int = Field(default=50, ge=1, validation_alias="CRM_ENGAGEMENT_SEND_BATCH")
    send_concurrency: int = Field(default=8, ge=1, validation_alias="CRM_ENGAGEMENT_SEND_CONCURRENCY")
    send_pause_seconds: float = Field(
        default=0.0,
        ge=0,
        validation_alias="CRM_ENGAGEMENT_SEND_PAUSE_SECONDS",
        description="Pause after each mail per sending slot: a rate limit for SMTP servers that throttle",
    )
    max_attempts: int = Field(
        default=6, ge=1, validation_alias="CRM_ENGAGEMENT_MAX_ATTEMPTS", description="SMTP tries per mail"
    )
    retry_base_seconds: float = Field(
        default=5.0,
        gt=0,
        validation_alias="CRM_ENGAGEMENT_RETRY_BASE_SECONDS",
        description="Pause before the 2nd try; doubled for each further one (at most an hour)",
    )
    claim_timeout_seconds: float = Field(
        default=120.0,
        gt=0,
        validation_alias="CRM_ENGAGEMENT_CLAIM_TIMEOUT_SECONDS",
        description="A send claimed this long ago and not finished was interrupted by a crash: "
        "it is marked failed, never retried (it may have gone out)",
    )

    marketing_limit: int = Field(
        default=3,
        ge=1,
        validation_alias="CRM_ENGAGEMENT_MARKETING_LIMIT",
        description="Most marketing mails per customer per rolling window",
    )
    marketing_window_hours: float = Field(
        default=168.0, gt=0, validation_alias="CRM_ENGAGEMENT_MARKETING_WINDOW_HOURS"
    )
    campaign_every_seconds: float = Field(
        default=1.0,
        gt=0,
        validation_alias="CRM_ENGAGEMENT_CAMPAIGN_EVERY_SECONDS",
        description="How often due campaigns are launched and progress is checked",
    )
    max_selection: int = Field(default=10_000, ge=1, validation_alias="CRM_ENGAGEMENT_MAX_SELECTION")

    survey_link_days: float = Field(
        default=30.0,
        gt=0,
        validation_alias="CRM_ENGAGEMENT_SURVEY_LINK_DAYS",
        description="A survey link in a mail works this many days after the mail was queued",
    )
    review_request_days: float = Field(
        default=7.0,
        gt=0,
        le=365,
        validation_alias="CRM_ENGAGEMENT_REVIEW_REQUEST_DAYS",
        description="The review request's default delay after an order (PUT /v1/automations/review_request changes it)",
    )
    automation_every_seconds: float = Field(
        default=60.0,
        gt=0,
        validation_alias="CRM_ENGAGEMENT_AUTOMATION_EVERY_SECONDS",
        description="How often due review requests are queued",
    )
    preference_link_days: float = Field(
        default=30.0,
        gt=0,
        validation_alias="CRM_ENGAGEMENT_PREFERENCE_LINK_DAYS",
        description="A preference-centre link works this many days after it was made",
    )
    support_reply_to: str | None = Field(
        default=None,
        max_length=320,
        validation_alias="CRM_ENGAGEMENT_SUPPORT_REPLY_TO",
        description="Reply-To of the mail that carries a staff reply on a ticket (the address your "
        "mail gateway turns into POST /v1/tickets/inbound); default: none (replies go to From)",
    )
    first_response_hours: float = Field(
        default=24.0,
        gt=0,
        validation_alias="CRM_ENGAGEMENT_FIRST_RESPONSE_HOURS",
        description="A new ticket's first staff answer is due this many hours after it opened",
    )
