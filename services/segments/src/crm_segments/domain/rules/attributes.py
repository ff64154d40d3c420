"""The attributes a segment rule may name (docs/contract.md §3) and their kinds. A profile document
stores each attribute under the same name, so the compiled filter is a plain field filter."""

from enum import Enum


class Kind(Enum):
    MONEY = "money"  # major units of the base currency in rules; minor units in profiles
    NUMBER = "number"
    DATE = "date"
    TEXT = "text"
    BOOL = "bool"
    LIST = "list"  # list of strings


ATTRIBUTES: dict[str, Kind] = {
    "amount_spent": Kind.MONEY,
    "average_order_value": Kind.MONEY,
    "store_credit_balance": Kind.MONEY,
    "number_of_orders": Kind.NUMBER,
    "first_order_date": Kind.DATE,
    "last_order_date": Kind.DATE,
    "created_at": Kind.DATE,
    "country": Kind.TEXT,
    "city": Kind.TEXT,
    "email": Kind.TEXT,
    "customer_tags": Kind.LIST,
    "customer_groups": Kind.LIST,
    "categories_purchased": Kind.LIST,
    "products_purchased": Kind.LIST,
    "has_account": Kind.BOOL,
    "email_subscribed": Kind.BOOL,
}

ORDERED = {Kind.MONEY, Kind.NUMBER, Kind.DATE}
"""Kinds that `<`, `<=`, `>`, `>=` and BETWEEN apply to."""
