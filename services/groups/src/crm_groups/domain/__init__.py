"""The groups service's pure rules and the typed documents it stores; no I/O.

- `documents`: what every stored document holds.
- `groups`: ids, names, a new group, an edit, the group's view.
- `metadata`: metadata limits and PATCH merging.
- `membership`: the rules of a bulk membership change.
- `analytics`: a group's members, buyers and spending.
- `personal_data`: what the service holds about a person (a GDPR export), the answers' ids.
- `pricing`: which group's pricing applies to a customer; price-list entries and the price rule.
"""

from crm_groups.domain.analytics import GroupAnalytics, group_analytics
from crm_groups.domain.documents import (
    CreditLimit,
    DefaultGroupClaim,
    ErasurePlan,
    ErasureRecord,
    GroupDeletion,
    GroupDoc,
    KnownCustomer,
    MembershipDoc,
    MembershipEvents,
    MembershipOp,
    MembershipVersion,
    MetadataItem,
    MetadataValue,
    NameClaim,
    PersonalDataExport,
    PriceDoc,
    PriceRemoval,
    RemovalClaim,
    Removing,
    Spend,
)
from crm_groups.domain.groups import (
    CustomerGroupView,
    GroupChanges,
    GroupFields,
    GroupView,
    clean_name,
    credit_limits,
    default_group_id,
    edited,
    group_view,
    name_key,
    new_group,
    new_group_id,
)
from crm_groups.domain.membership import UnknownCustomers, check_change, chunks, unique
from crm_groups.domain.metadata import InvalidMetadata, MetadataLimits, merge_metadata
from crm_groups.domain.personal_data import SERVICE, collected_event_id, erased_event_id, personal_data
from crm_groups.domain.pricing import (
    ALL_SKUS,
    Candidate,
    PriceFields,
    Resolution,
    applicable_pricing,
    group_offer,
    has_pricing,
    new_price,
    price_view,
    resolve_price,
)

__all__ = [
    "ALL_SKUS",
    "SERVICE",
    "collected_event_id",
    "erased_event_id",
    "personal_data",
    "Candidate",
    "CreditLimit",
    "CustomerGroupView",
    "DefaultGroupClaim",
    "GroupChanges",
    "ErasurePlan",
    "ErasureRecord",
    "GroupDeletion",
    "GroupDoc",
    "GroupAnalytics",
    "GroupFields",
    "GroupView",
    "InvalidMetadata",
    "KnownCustomer",
    "MembershipDoc",
    "MembershipEvents",
    "MembershipOp",
    "MembershipVersion",
    "PersonalDataExport",
    "MetadataItem",
    "MetadataLimits",
    "MetadataValue",
    "NameClaim",
    "PriceDoc",
    "PriceFields",
    "PriceRemoval",
    "RemovalClaim",
    "Resolution",
    "Removing",
    "Spend",
    "UnknownCustomers",
    "applicable_pricing",
    "check_change",
    "chunks",
    "clean_name",
    "credit_limits",
    "default_group_id",
    "edited",
    "group_analytics",
    "group_offer",
    "group_view",
    "has_pricing",
    "merge_metadata",
    "name_key",
    "new_group",
    "new_group_id",
    "new_price",
    "price_view",
    "resolve_price",
    "unique",
]
