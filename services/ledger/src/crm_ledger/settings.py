"""The ledger's settings (environment variables)."""

from typing import Literal

from pydantic import Field

from crm_servicekit.settings import ServiceSettings


class LedgerSettings(ServiceSettings):
    http_port: int = Field(default=8003, validation_alias="CRM_HTTP_PORT")
    source: str = Field(default="/crm/ledger", validation_alias="CRM_EVENT_SOURCE")
    idempotency_key_hours: float = Field(
        default=24.0,
        gt=0,
        validation_alias="CRM_LEDGER_IDEMPOTENCY_KEY_HOURS",
        description="How long an Idempotency-Key is remembered (its first result replayed)",
    )
    expiry_job_seconds: float = Field(
        default=30.0,
        gt=0,
        validation_alias="CRM_LEDGER_EXPIRY_JOB_SECONDS",
        description="How often expired holds and expiring credit are looked for",
    )
    hold_default_seconds: int = Field(
        default=900,
        ge=1,
        validation_alias="CRM_LEDGER_HOLD_SECONDS",
        description="Lifetime of a hold created without expires_at",
    )
    unknown_customer_grace_seconds: float = Field(
        default=3.0,
        ge=0,
        validation_alias="CRM_LEDGER_UNKNOWN_CUSTOMER_GRACE_SECONDS",
        description="How long an order spending store credit waits for its customer's e-mail "
        "to become known (customer.created may be handled concurrently) before dead-lettering",
    )
    birthday_job_seconds: float = Field(
        default=3600.0,
        gt=0,
        validation_alias="CRM_LEDGER_BIRTHDAY_JOB_SECONDS",
        description="How often the birthday job looks for today's birthdays (each customer gets "
        "one birthday coupon a year however often it runs)",
    )
    points_expiry_job_seconds: float = Field(
        default=3600.0,
        gt=0,
        validation_alias="CRM_LEDGER_POINTS_EXPIRY_JOB_SECONDS",
        description="How often reward points past their programme's points_expire_days are expired "
        "(once each however often it runs, with any number of replicas)",
    )
    take_back_points: bool = Field(
        default=True,
        validation_alias="CRM_LEDGER_TAKE_BACK_POINTS",
        description="Take an order's points back on its refunds and cancellation (revoking unused "
        "coupons those points paid for when the balance lacks them)",
    )
    unknown_customer_http_wait_seconds: float = Field(
        default=1.0,
        ge=0,
        le=10,
        validation_alias="CRM_LEDGER_UNKNOWN_CUSTOMER_HTTP_WAIT_SECONDS",
        description="How long a request moving money for a customer the ledger has not heard of "
        "waits for its customer.created (possibly in flight) before 404",
    )
    programme_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        validation_alias="CRM_LEDGER_PROGRAMME_CACHE_SECONDS",
        description="How often each replica reloads the reward programmes (a change made through "
        "another replica is seen within this time)",
    )
    # The reward programme `default` until it is changed over HTTP (REWARD_POINTS_PER_UNIT=0
    # switches it off).
    reward_points_per_unit: int = Field(
        default=1,
        ge=0,
        validation_alias="CRM_REWARD_POINTS_PER_UNIT",
        description="Points per major unit of currency (1 EUR, 1 USD, 1 JPY) of an order's total",
    )
    reward_currency: str | None = Field(
        default=None,
        pattern=r"^[A-Z]{3}$",
        validation_alias="CRM_REWARD_CURRENCY",
        description="Only orders in this currency earn points (default: every currency)",
    )
    reward_target: int = Field(default=1000, ge=1, validation_alias="CRM_REWARD_TARGET")
    reward_coupon_kind: Literal["amount", "percentage"] = Field(
        default="amount", validation_alias="CRM_REWARD_COUPON_KIND"
    )
    reward_coupon_value: int = Field(
        default=1000,
        ge=1,
        validation_alias="CRM_REWARD_COUPON_VALUE",
        description="Minor units (amount coupons) or whole percent (percentage coupons)",
    )
    reward_coupon_currency: str = Field(
        default="EUR",
        pattern=r"^[A-Z]{3}$",
        validation_alias="CRM_REWARD_COUPON_CURRENCY",
        description="Currency of amount coupons",
    )
    reward_coupon_days: int = Field(default=90, ge=1, validation_alias="CRM_REWARD_COUPON_DAYS")
