from pydantic import Field

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
