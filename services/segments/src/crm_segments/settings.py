from pydantic import Field

from crm_servicekit.settings import ServiceSettings


class SegmentsSettings(ServiceSettings):
    http_port: int = Field(default=8004, validation_alias="CRM_HTTP_PORT")
    source: str = Field(default="/crm/segments", validation_alias="CRM_EVENT_SOURCE")
