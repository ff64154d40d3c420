from decimal import Decimal
from typing import Annotated

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

    @field_validator("fx_rates", mode="before")
    @classmethod
    def _split_rates(cls, value: object) -> object:
        if isinstance(value, str):
            pairs = [p.split("=", 1) for p in value.split(",") if p.strip()]
            return {k.strip().upper(): v.strip() for k, v in pairs}
        return value
