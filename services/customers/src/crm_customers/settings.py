from typing import Annotated

from pydantic import Field, field_validator
from pydantic_settings import NoDecode

from crm_contracts.types import CurrencyCode
from crm_servicekit.settings import ServiceSettings


class CustomersSettings(ServiceSettings):
    http_port: int = Field(default=8001, validation_alias="CRM_HTTP_PORT")
    source: str = Field(default="/crm/customers", validation_alias="CRM_EVENT_SOURCE")
    base_currency: CurrencyCode = Field(
        default="EUR",
        validation_alias="CRM_BASE_CURRENCY",
        description="Currency whose total spent is indexed for `sort=total_spent`",
    )
    public_url: str | None = Field(
        default=None,
        validation_alias="CRM_CUSTOMERS_PUBLIC_URL",
        description="Where calendar apps reach this service (e.g. https://crm.example.com:8001); "
        "with it, an agent's new calendar token comes with the feed's full URL",
    )
    personal_data_services: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["groups", "ledger", "segments", "engagement"],
        validation_alias="CRM_CUSTOMERS_PERSONAL_DATA_SERVICES",
        description="Comma-separated: the services whose part completes a personal data export "
        "(and whose erasure confirmations are awaited)",
    )
    erasure_grace_days: int = Field(
        default=10,
        ge=0,
        le=365,
        validation_alias="CRM_CUSTOMERS_ERASURE_GRACE_DAYS",
        description="Days between an erasure request and its being carried out (cancellable until then)",
    )
    erasure_job_seconds: float = Field(
        default=60,
        gt=0,
        validation_alias="CRM_CUSTOMERS_ERASURE_JOB_SECONDS",
        description="How often due erasures are looked for and carried out",
    )

    verification_hours: float = Field(
        default=48,
        gt=0,
        validation_alias="CRM_CUSTOMERS_VERIFICATION_HOURS",
        description="How long the token that verifies a registration with a guest's e-mail is valid",
    )

    @field_validator("personal_data_services", mode="before")
    @classmethod
    def _split_services(cls, value: object) -> object:
        if isinstance(value, str):
            return [s.strip() for s in value.split(",") if s.strip()]
        return value
