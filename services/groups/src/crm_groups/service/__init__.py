"""The groups service's use cases, the only code that writes: `Groups` (create, edit, delete,
read groups) and `Memberships` (change members, the customers that exist, finishing changes a
crash interrupted, reading memberships and pricing) and `PriceLists` (price-list entries,
the price a customer pays for a SKU) and `PersonalData` (a GDPR export, the confirmation of an
erasure). They raise crm_servicekit.errors."""

from crm_groups.service.groups import Groups, Listing
from crm_groups.service.membership import MembersChanged, Memberships
from crm_groups.service.personal_data import PersonalData
from crm_groups.service.pricing import PriceLists

__all__ = ["Groups", "Listing", "MembersChanged", "Memberships", "PersonalData", "PriceLists"]
