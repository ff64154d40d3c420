"""The groups service's pure rules and the typed documents it stores; no I/O.

- `documents`: what every stored document holds.
- `groups`: ids, names, a new group, an edit, the group's view.
- `metadata`: metadata limits and PATCH merging.
- `membership`: the rules of a bulk membership change.
- `pricing`: which group's pricing applies to a customer.
"""

from crm_groups.domain.documents import (
    GroupDeletion,
    GroupDoc,
    KnownCustomer,
    MembershipDoc,
    MembershipEvents,
    MembershipOp,
    MetadataItem,
    MetadataValue,
    NameClaim,
    RemovalClaim,
    Removing,
)
from crm_groups.domain.groups import (
    CustomerGroupView,
    GroupChanges,
    GroupFields,
    GroupView,
    clean_name,
    edited,
    group_view,
    name_key,
    new_group,
    new_group_id,
)
from crm_groups.domain.membership import UnknownCustomers, check_change, chunks, unique
from crm_groups.domain.metadata import InvalidMetadata, MetadataLimits, merge_metadata
from crm_groups.domain.pricing import applicable_pricing, has_pricing

__all__ = [
    "CustomerGroupView",
    "GroupChanges",
    "GroupDeletion",
    "GroupDoc",
    "GroupFields",
    "GroupView",
    "InvalidMetadata",
    "KnownCustomer",
    "MembershipDoc",
    "MembershipEvents",
    "MembershipOp",
    "MetadataItem",
    "MetadataLimits",
    "MetadataValue",
    "NameClaim",
    "RemovalClaim",
    "Removing",
    "UnknownCustomers",
    "applicable_pricing",
    "check_change",
    "chunks",
    "clean_name",
    "edited",
    "group_view",
    "has_pricing",
    "merge_metadata",
    "name_key",
    "new_group",
    "new_group_id",
    "unique",
]
