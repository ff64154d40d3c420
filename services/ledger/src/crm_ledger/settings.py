from pydantic import Field

from crm_servicekit.settings import ServiceSettings


class LedgerSettings(ServiceSettings):
    http_port: int = Field(default=8003, validation_alias="CRM_HTTP_PORT")
    source: str = Field(default="/crm/ledger", validation_alias="CRM_EVENT_SOURCE")
