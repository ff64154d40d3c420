from pydantic import Field

from crm_servicekit.settings import ServiceSettings


class CustomersSettings(ServiceSettings):
    http_port: int = Field(default=8001, validation_alias="CRM_HTTP_PORT")
    source: str = Field(default="/crm/customers", validation_alias="CRM_EVENT_SOURCE")
