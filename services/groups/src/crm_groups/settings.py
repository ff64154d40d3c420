"""The groups service's settings (environment variables)."""

from pydantic import Field

from crm_servicekit.settings import ServiceSettings


class GroupsSettings(ServiceSettings):
    http_port: int = Field(default=8002, validation_alias="CRM_HTTP_PORT")
    source: str = Field(default="/crm/groups", validation_alias="CRM_EVENT_SOURCE")
    max_bulk_ids: int = Field(
        default=10_000,
        ge=1,
        validation_alias="CRM_GROUPS_MAX_BULK_IDS",
        description="Most ids in `add` (and in `remove`) of one membership call",
    )
    member_event_ids: int = Field(
        default=1_000,
        ge=1,
        validation_alias="CRM_GROUPS_MEMBER_EVENT_IDS",
        description="Most customer ids in one group.members.* event; bigger changes are split",
    )
    max_join_groups: int = Field(
        default=100,
        ge=1,
        validation_alias="CRM_GROUPS_MAX_JOIN_GROUPS",
        description="Most groups a customer joins from `join_group_ids` of its customer.created",
    )
    metadata_max_keys: int = Field(default=50, ge=1, validation_alias="CRM_GROUPS_METADATA_MAX_KEYS")
    metadata_max_key_length: int = Field(
        default=40, ge=1, validation_alias="CRM_GROUPS_METADATA_MAX_KEY_LENGTH"
    )
    metadata_max_value_length: int = Field(
        default=500, ge=1, validation_alias="CRM_GROUPS_METADATA_MAX_VALUE_LENGTH"
    )
    recovery_after_seconds: float = Field(
        default=120.0,
        gt=0,
        validation_alias="CRM_GROUPS_RECOVERY_AFTER_SECONDS",
        description="A membership change or group deletion unfinished for this long is finished "
        "by the recovery job (the process doing it crashed)",
    )
    recovery_every_seconds: float = Field(
        default=30.0, gt=0, validation_alias="CRM_GROUPS_RECOVERY_EVERY_SECONDS"
    )
    default_groups: str = Field(
        default="Standard,Business",
        max_length=2000,
        validation_alias="CRM_GROUPS_DEFAULT_GROUPS",
        description="Comma-separated names of the groups a new installation starts with, each "
        "created once (removing one later does not bring it back); empty: none",
    )
    keep_records_days: float = Field(
        default=7.0,
        gt=0,
        validation_alias="CRM_GROUPS_KEEP_RECORDS_DAYS",
        description="How long records of finished membership changes are kept",
    )

    @property
    def default_group_names(self) -> list[str]:
        names = [" ".join(n.split()) for n in self.default_groups.split(",")]
        return list(dict.fromkeys(n[:100] for n in names if n))
