"""HTTP bodies of the groups API (requests are strict: an unknown field is a 422)."""

from datetime import datetime
from typing import Annotated, Any, cast

from pydantic import BaseModel, ConfigDict, Field, field_validator

from crm_groups.domain import GroupChanges, GroupFields

Name = Annotated[str, Field(min_length=1, max_length=100, description="Unique, case-insensitive")]
Description = Annotated[str, Field(max_length=2000)]
Discount = Annotated[int, Field(ge=0, le=100, description="Whole percent off")]
Tier = Annotated[str, Field(min_length=1, max_length=100, description="A named price list")]
Priority = Annotated[int, Field(ge=-1_000_000, le=1_000_000, description="Higher wins between groups")]
CustomerId = Annotated[str, Field(min_length=1, max_length=200)]
Metadata = Annotated[
    dict[str, Any],
    Field(
        description="Key-value pairs for integrations; a key set to null is removed. Values "
        "are strings, numbers or booleans; limits on key length, value size and key count apply."
    ),
]


def _real_name(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("name must not be blank")
    return value


class GroupCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description | None = None
    metadata: Metadata = Field(default_factory=dict)
    discount_percent: Discount | None = None
    price_tier: Tier | None = None
    priority: Priority = 0

    _name = field_validator("name")(_real_name)

    def fields(self) -> GroupFields:
        return {
            "name": self.name,
            "description": self.description,
            "discount_percent": self.discount_percent,
            "price_tier": self.price_tier,
            "priority": self.priority,
        }


class GroupPatch(BaseModel):
    """Only the fields given change; null clears description, discount_percent, price_tier."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = None
    description: Description | None = None
    metadata: Metadata | None = None
    discount_percent: Discount | None = None
    price_tier: Tier | None = None
    priority: Priority | None = None

    @field_validator("name")
    @classmethod
    def _name_not_null(cls, value: str | None) -> str | None:
        if value is None:
            raise ValueError("name cannot be null")
        return _real_name(value)

    def changes(self) -> GroupChanges:
        """The fields given, besides metadata."""
        return cast(GroupChanges, {f: getattr(self, f) for f in self.model_fields_set if f != "metadata"})


class MembershipChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    add: list[CustomerId] = Field(default_factory=list, max_length=100_000)
    remove: list[CustomerId] = Field(default_factory=list, max_length=100_000)


class GroupOut(BaseModel):
    id: str
    version: int
    name: str
    description: str | None
    metadata: dict[str, Any]
    discount_percent: int | None
    price_tier: str | None
    priority: int
    member_count: int
    created_at: datetime
    updated_at: datetime


class GroupsPage(BaseModel):
    items: list[GroupOut]
    next_cursor: str | None = None


class MembershipOut(BaseModel):
    group_id: str
    added: list[str] = Field(description="Ids that became members by this call")
    removed: list[str] = Field(description="Ids that stopped being members by this call")
    member_count: int


class MemberOut(BaseModel):
    customer_id: str
    added_at: datetime


class MembersPage(BaseModel):
    items: list[MemberOut]
    next_cursor: str | None = None


class CustomerGroupOut(GroupOut):
    added_at: datetime


class CustomerGroupsPage(BaseModel):
    items: list[CustomerGroupOut]
    next_cursor: str | None = None


class PricingGroup(BaseModel):
    id: str
    name: str
    priority: int
    discount_percent: int | None
    price_tier: str | None


class PricingOut(BaseModel):
    customer_id: str
    discount_percent: int | None = Field(description="The one discount to apply; null: none")
    price_tier: str | None
    group: PricingGroup | None = Field(description="The group whose pricing applies")
    considered: list[PricingGroup] = Field(
        description="The customer's groups with pricing, best first (priority, then discount)"
    )
