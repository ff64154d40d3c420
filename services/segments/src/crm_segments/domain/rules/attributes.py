"""The attributes a segment rule may name (docs/contract.md §3) and their kinds. A profile document
stores each attribute under the same name, so the compiled filter is a plain field filter.

Shopify's filter names (`customer_countries`, `customer_added_date`...) are not attributes of their
own: shopify.py translates them into conditions on these."""

from enum import Enum


class Kind(Enum):
    MONEY = "money"  # major units of the base currency in rules; minor units in profiles
    NUMBER = "number"
    DATE = "date"  # an instant; a date literal stands for a day in the store's time zone
    DAY = "day"  # a calendar date with no time zone (a birthday), stored as UTC midnight
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
    "abandoned_checkout_date": Kind.DATE,
    "birthday": Kind.DAY,
    "country": Kind.TEXT,
    "city": Kind.TEXT,
    "email": Kind.TEXT,
    "email_domain": Kind.TEXT,
    "status": Kind.TEXT,
    "gender": Kind.TEXT,
    "customer_tags": Kind.LIST,
    "customer_groups": Kind.LIST,
    "categories_purchased": Kind.LIST,
    "products_purchased": Kind.LIST,
    "has_account": Kind.BOOL,
    "email_subscribed": Kind.BOOL,
}

DERIVED: dict[str, Kind] = {
    "city_code": Kind.TEXT,  # the city's letters and digits, lower-cased: Shopify's city code
    "birthday_md": Kind.NUMBER,  # month * 100 + day of the birthday: anniversary()
}
"""Fields a profile keeps for Shopify's filters; rules reach them only through shopify.py."""

FIELDS: dict[str, Kind] = {**ATTRIBUTES, **DERIVED}
"""Every field a compiled rule may filter on (each has an index, store.py)."""

LOWER_CASED = {"email_domain", "city_code", "status", "gender"}
"""Text compared lower-cased (rules and profiles alike); `country` is compared upper-cased."""

ORDERED = {Kind.MONEY, Kind.NUMBER, Kind.DATE, Kind.DAY}
"""Kinds that `<`, `<=`, `>`, `>=` and BETWEEN apply to."""
