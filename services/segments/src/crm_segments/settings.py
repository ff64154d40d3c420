from decimal import Decimal
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from crm_servicekit.settings import ServiceSettings


class SegmentsSettings(ServiceSettings):
    http_port: int = Field(default=8004, validation_alias="CRM_HTTP_PORT")
    source: str = Field(default="/crm/segments", validation_alias="CRM_EVENT_SOURCE")
    base_currency: str = Field(
        default="EUR",
        pattern=r"^[A-Z]{3}$",
        validation_alias="CRM_BASE_CURRENCY",
        description="Currency whose major units amount_spent, average_order_value and "
        "store_credit_balance are written in",
    )
    fx_rates: Annotated[dict[str, Decimal], NoDecode] = Field(
        default_factory=dict,
        validation_alias="CRM_FX_RATES",
        description="Fixed rates 'USD=0.92,GBP=1.17' (one unit of USD is 0.92 of the base "
        "currency). Money in a currency that is neither the base nor listed here does not count",
    )
    reevaluate_seconds: float = Field(
        default=300,
        gt=0,
        validation_alias="CRM_SEGMENTS_REEVALUATE_SECONDS",
        description="How often segments with relative dates (-90d) are re-evaluated",
    )

    store_timezone: str = Field(
        default="UTC",
        validation_alias="CRM_STORE_TIMEZONE",
        description="The store's IANA time zone (Europe/Lisbon): what 'today' and a date's day are in rules",
    )

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.store_timezone)

    @field_validator("store_timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Lisbon)") from None
        return value

    @field_validator("fx_rates", mode="before")
    @classmethod
    def _split_rates(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
            return {k.strip().upper(): v.strip() for k, v in pairs}
        return value
