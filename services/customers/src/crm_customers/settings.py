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
