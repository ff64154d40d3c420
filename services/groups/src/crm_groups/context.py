"""What handlers and HTTP routes share: the store, the settings, the event source."""

from dataclasses import dataclass

from crm_groups.domain import MetadataLimits
from crm_groups.settings import GroupsSettings
from crm_groups.store import GroupStore


@dataclass
class Context:
    store: GroupStore
    settings: GroupsSettings

    @property
    def source(self) -> str:
        return self.settings.source

    @property
    def metadata_limits(self) -> MetadataLimits:
        s = self.settings
        return MetadataLimits(s.metadata_max_keys, s.metadata_max_key_length, s.metadata_max_value_length)
