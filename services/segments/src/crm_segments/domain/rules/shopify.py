"""Shopify's segment filters (its segment query language reference), translated into conditions on
what this CRM knows, or refused with the reason when we do not have the data.

- RENAMED: the same meaning under another name (`customer_added_date` is `created_at`).
- FILTERS: Shopify filters with values of their own (`customer_countries CONTAINS 'US'`,
  `customer_account_status = 'ENABLED'`, `rfm_group = 'champions'`...).
- FUNCTIONS: `products_purchased(id: ...) = true`, `orders_placed(...) = true`,
  `anniversary(date: 'birthday') BETWEEN today AND +30d`, `store_credit_accounts(balance: >= 10) = true`.
- UNAVAILABLE: what no event brings us (SMS consent, languages, regions, apps, storefront events...).
"""

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from crm_segments.domain.rules import rfm
from crm_segments.domain.rules.tree import (
    AbsDate,
    And,
    Anniversary,
    Bool,
    Compare,
    Contains,
    DateValue,
    IsNull,
    NamedDate,
    Node,
    Not,
    Number,
    Or,
    Position,
    RelDate,
    RfmGroup,
    RuleError,
    Text,
    Value,
)

RENAMED = {
    "customer_added_date": "created_at",
    "customer_email_domain": "email_domain",
}

_NO_REGION = "customer events carry a country and a city but no region (state or province)"
UNAVAILABLE = {
    "sms_subscription_status": "customer events carry no SMS marketing consent",
    "customer_language": "customer events carry no language or locale",
    "customer_regions": _NO_REGION,
    "customer_states": _NO_REGION,
    "predicted_spend_tier": (
        "no maintained library here gives an honest spend prediction from our data (lifetimes and "
        "btyd are unmaintained; pymc-marketing needs PyMC's sampler), so it is not computed"
    ),
    "created_by_app_id": "customer events do not say which app created a customer",
    "companies": "this CRM has no B2B companies",
    "customer_within_distance": "customer events carry no geographic coordinates",
    "product_subscription_status": "this CRM knows of no product subscriptions",
    "shopify_email": "this CRM receives no e-mail marketing events (opens, clicks, bounces)",
    "storefront": "storefronts publish no browsing events (product or collection views)",
    "metafields": "this CRM has no metafields; a birthday is 'birthday' (or Shopify's "
    "'metafields.facts.birth_date' in anniversary())",
    "customer": "this CRM has no customer metafields",
    "sales_channel_id": "orders carry no sales channel",
    "app_id": "orders carry no app id",
    "location_id": "orders carry no location",
}
"""Filter, function or parameter names, with why we cannot answer them. A dotted name
(`shopify_email.opened`) is looked up by its first part."""


def unknown(name: str, function: bool) -> tuple[str]:
    """The message for a name that is neither ours nor one of Shopify's we translate."""
    reason = UNAVAILABLE.get(name) or UNAVAILABLE.get(name.split(".")[0])
    if reason is not None:
        return (f"{name} is not available: {reason}",)
    return (f"unknown {'function' if function else 'attribute'} {name!r}",)


def _refuse(name: str, message: str, at: Position) -> RuleError:
    return RuleError(message, at, attribute=name)


# Filters with values of their own ------------------------------------------------------------


def city_code(city: str) -> str:
    """Shopify's city code from a city name: letters and digits only, accents dropped, lower-cased
    ('New York City' -> 'newyorkcity', 'São Paulo' -> 'saopaulo')."""
    plain = unicodedata.normalize("NFKD", city)
    return "".join(ch for ch in plain if ch.isalnum() and not unicodedata.combining(ch)).lower()


def _texts(name: str, values: list[Value], at: Position) -> list[str]:
    out = []
    for v in values:
        if not isinstance(v, Text):
            raise _refuse(name, f"{name} needs a quoted text", at)
        out.append(v.value)
    return out


def _list_form(name: str, form: str, at: Position) -> None:
    if form not in ("contains", "not_contains", "is_null", "is_not_null"):
        raise _refuse(name, f"{name} takes CONTAINS, NOT CONTAINS, IS NULL or IS NOT NULL", at)


def _countries(form: str, op: str | None, values: list[Value], at: Position) -> Node:
    name = "customer_countries"
    _list_form(name, form, at)
    if form in ("is_null", "is_not_null"):
        return IsNull("country", negated=form == "is_not_null")
    (code,) = _texts(name, values, at)
    yes = Compare("country", "=", Text(code.strip().upper()))
    return yes if form == "contains" else Not(yes)


def _cities(form: str, op: str | None, values: list[Value], at: Position) -> Node:
    """countryCode-regionCode-cityCode ('US-NY-NewYorkCity'); we hold no region, so it is not
    checked, and 'US-NewYorkCity' is accepted too."""
    name = "customer_cities"
    _list_form(name, form, at)
    if form in ("is_null", "is_not_null"):
        return IsNull("city", negated=form == "is_not_null")
    (text,) = _texts(name, values, at)
    parts = text.strip().split("-")
    if len(parts) < 2 or not parts[0] or not city_code("".join(parts[-1:])):
        raise _refuse(name, f"{name} needs countryCode-regionCode-cityCode, e.g. 'US-NY-NewYorkCity'", at)
    city = city_code("".join(parts[2:] if len(parts) >= 3 else parts[1:]))
    yes = And((Compare("country", "=", Text(parts[0].upper())), Compare("city_code", "=", Text(city))))
    return yes if form == "contains" else Not(yes)


def _one_of(name: str, form: str, op: str | None, values: list[Value], at: Position) -> tuple[str, bool]:
    """`name = 'X'` or `name != 'X'`: the upper-cased X and whether it is `=`."""
    if form != "compare" or op not in ("=", "!="):
        raise _refuse(name, f"{name} takes = or !=", at)
    (text,) = _texts(name, values, at)
    return text.strip().upper(), op == "="


def _account_status(form: str, op: str | None, values: list[Value], at: Position) -> Node:
    """ENABLED: has an account that is not inactive; DISABLED: the others."""
    name = "customer_account_status"
    state, equal = _one_of(name, form, op, values, at)
    if state in ("INVITED", "DECLINED"):
        raise _refuse(name, f"{name} {state} is not available: this CRM sends no account invitations", at)
    if state not in ("ENABLED", "DISABLED"):
        raise _refuse(name, f"{name} is ENABLED or DISABLED (INVITED and DECLINED: no invitations here)", at)
    enabled = And((Compare("has_account", "=", Bool(True)), Not(Compare("status", "=", Text("inactive")))))
    return enabled if (state == "ENABLED") == equal else Not(enabled)


def _email_subscription(form: str, op: str | None, values: list[Value], at: Position) -> Node:
    name = "email_subscription_status"
    state, equal = _one_of(name, form, op, values, at)
    if state in ("PENDING", "UNSUBSCRIBED"):
        raise _refuse(
            name,
            f"{name} {state} is not available: customer events say only whether the customer is "
            "subscribed now (SUBSCRIBED or NOT_SUBSCRIBED)",
            at,
        )
    if state not in ("SUBSCRIBED", "NOT_SUBSCRIBED"):
        raise _refuse(name, f"{name} is SUBSCRIBED or NOT_SUBSCRIBED", at)
    yes = Compare("email_subscribed", "=", Bool(state == "SUBSCRIBED"))
    return yes if equal else Not(yes)


def _rfm_group(form: str, op: str | None, values: list[Value], at: Position) -> Node:
    name = "rfm_group"
    if form != "compare" or op not in ("=", "!="):
        raise _refuse(name, f"{name} takes = or !=", at)
    (text,) = _texts(name, values, at)
    group = rfm.group_name(text)
    if group is None:
        raise _refuse(name, f"{name} is one of {', '.join(rfm.GROUPS)}", at)
    return RfmGroup(group) if op == "=" else Not(RfmGroup(group))


FilterRule = Callable[[str, str | None, list[Value], Position], Node]
FILTERS: dict[str, FilterRule] = {
    "customer_countries": _countries,
    "customer_cities": _cities,
    "customer_account_status": _account_status,
    "email_subscription_status": _email_subscription,
    "rfm_group": _rfm_group,
}


def filter_condition(name: str, form: str, op: str | None, values: list[Value], at: Position) -> Node:
    return FILTERS[name](form, op, values, at)


# Functions ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """A named parameter: `id: (1, 2)` has two values; `date: >= -30d` has an operator."""

    values: tuple[Value, ...]
    op: str | None
    at: Position


def _params(name: str, args: dict[str, Arg], known: tuple[str, ...], at: Position) -> None:
    for key, arg in args.items():
        if key in UNAVAILABLE:
            raise _refuse(name, f"{name}({key}: ...) is not available: {UNAVAILABLE[key]}", arg.at)
        if key not in known:
            raise _refuse(name, f"{name}() has no parameter {key!r} (it takes {', '.join(known)})", arg.at)


def _truth(name: str, form: str, op: str | None, values: list[Value], at: Position) -> bool:
    """`f(...) = true` is True, `= false` or `!= true` False."""
    if form != "compare" or op not in ("=", "!=") or not isinstance(values[0], Bool):
        raise _refuse(name, f"{name}(...) is compared with = true or = false", at)
    return values[0].value == (op == "=")


def _id_text(v: Value) -> str | None:
    if isinstance(v, Text):
        return v.value
    if isinstance(v, Number) and v.value == v.value.to_integral_value():
        return str(int(v.value))
    return None


def _products_purchased(
    args: dict[str, Arg], form: str, op: str | None, values: list[Value], at: Position
) -> Node:
    name = "products_purchased"
    _params(name, args, ("id", "tag", "date"), at)
    if "tag" in args:
        raise _refuse(
            name,
            f"{name}(tag: ...) is not available: order items carry a category, not product tags "
            "(use categories_purchased CONTAINS '...')",
            args["tag"].at,
        )
    if "date" in args:
        raise _refuse(
            name,
            f"{name}(date: ...) is not available: we keep which products a customer bought, not when",
            args["date"].at,
        )
    if "id" not in args:
        raise _refuse(name, f"{name}() needs the parameter id: the product (SKU), or (id1, id2)", at)
    ids = [_id_text(v) for v in args["id"].values]
    if any(i is None for i in ids) or args["id"].op is not None:
        raise _refuse(
            name, f"{name}(id: ...) takes product ids (SKUs): a text, a whole number or a list", args["id"].at
        )
    bought = [Contains("products_purchased", Text(i)) for i in ids if i is not None]
    node: Node = bought[0] if len(bought) == 1 else Or(tuple(bought))
    return node if _truth(name, form, op, values, at) else Not(node)


def _count(name: str, arg: Arg) -> int:
    (v,) = arg.values if len(arg.values) == 1 else (None,)
    if (
        arg.op is not None
        or not isinstance(v, Number)
        or v.value != v.value.to_integral_value()
        or v.value < 0
    ):
        raise _refuse(name, f"{name}(): a count is a whole number, e.g. count_at_least: 2", arg.at)
    return int(v.value)


def _orders_placed(
    args: dict[str, Arg], form: str, op: str | None, values: list[Value], at: Position
) -> Node:
    """From the number of orders and the first and last order dates: any count without a date;
    with a date, `count_at_least` 1 (the default) and `date: >= d` (last order) or `<= d` (first)."""
    name = "orders_placed"
    _params(name, args, ("count_at_least", "count_at_most", "date"), at)
    least = _count(name, args["count_at_least"]) if "count_at_least" in args else None
    most = _count(name, args["count_at_most"]) if "count_at_most" in args else None
    parts: list[Node] = []
    if "date" in args:
        d = args["date"]
        (v,) = d.values
        if d.op is None or not isinstance(v, (AbsDate, RelDate, NamedDate)):
            raise _refuse(name, f"{name}(date: ...) needs a comparison and a date, e.g. date: >= -30d", d.at)
        if most is not None or least not in (None, 1):
            raise _refuse(
                name,
                f"{name}() with counts and a date is not available: we keep the number of orders and "
                "the first and last order dates, not the date of every order",
                d.at,
            )
        if d.op in (">", ">="):
            parts.append(Compare("last_order_date", d.op, v))
        elif d.op in ("<", "<="):
            parts.append(Compare("first_order_date", d.op, v))
        else:
            raise _refuse(name, f"{name}(date: ...) takes >, >=, < or <=", d.at)
    else:
        if least is None and most is None:
            least = 1
        if least is not None:
            parts.append(Compare("number_of_orders", ">=", Number(Decimal(least))))
        if most is not None:
            parts.append(Compare("number_of_orders", "<=", Number(Decimal(most))))
    node: Node = parts[0] if len(parts) == 1 else And(tuple(parts))
    return node if _truth(name, form, op, values, at) else Not(node)


BIRTHDAY_NAMES = ("birthday", "metafields.facts.birth_date", "facts.birth_date", "birth_date")


def _anniversary(args: dict[str, Arg], form: str, op: str | None, values: list[Value], at: Position) -> Node:
    name = "anniversary"
    _params(name, args, ("date",), at)
    if "date" not in args:
        raise _refuse(name, f"{name}() needs the parameter date: 'birthday'", at)
    which = args["date"].values
    if len(which) != 1 or not isinstance(which[0], Text) or which[0].value.lower() not in BIRTHDAY_NAMES:
        raise _refuse(
            name,
            f"{name}(date: ...) knows 'birthday' (or 'metafields.facts.birth_date'): customers carry no other dates to celebrate",
            args["date"].at,
        )
    if not (form == "between" or op == "="):
        raise _refuse(name, f"{name}(...) takes = or BETWEEN", at)
    dates: list[DateValue] = []
    for v in values:
        if not isinstance(v, (AbsDate, RelDate, NamedDate)):
            raise _refuse(name, f"{name}(...) is compared with dates: today, +30d, 2026-03-15", at)
        dates.append(v)
    return Anniversary(dates[0], dates[-1])


def _store_credit(args: dict[str, Arg], form: str, op: str | None, values: list[Value], at: Position) -> Node:
    name = "store_credit_accounts"
    _params(name, args, ("balance",), at)
    if "balance" not in args:
        raise _refuse(name, f"{name}() needs the parameter balance, e.g. balance: >= 10", at)
    b = args["balance"]
    (v,) = b.values if len(b.values) == 1 else (None,)
    if not isinstance(v, Number):
        raise _refuse(name, f"{name}(balance: ...) takes a comparison and an amount, e.g. balance: > 0", b.at)
    node = Compare("store_credit_balance", b.op or "=", v)
    return node if _truth(name, form, op, values, at) else Not(node)


FunctionRule = Callable[[dict[str, Arg], str, str | None, list[Value], Position], Node]
FUNCTIONS: dict[str, FunctionRule] = {
    "products_purchased": _products_purchased,
    "orders_placed": _orders_placed,
    "anniversary": _anniversary,
    "store_credit_accounts": _store_credit,
}


def function_condition(
    name: str, args: dict[str, Arg], form: str, op: str | None, values: list[Value], at: Position
) -> Node:
    return FUNCTIONS[name](args, form, op, values, at)
