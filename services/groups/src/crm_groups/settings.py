from pydantic import Field

from crm_servicekit.settings import ServiceSettings


class GroupsSettings(ServiceSettings):
    http_port: int = Field(default=8002, validation_alias="CRM_HTTP_PORT")
    source: str = Field(default="/crm/groups", validation_alias="CRM_EVENT_SOURCE")
