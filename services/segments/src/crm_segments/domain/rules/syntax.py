"""Parsing a segment rule (docs/contract.md §3) into a typed syntax tree, with a Lark LALR grammar.

Every error, syntactic or semantic (unknown attribute, a value of the wrong kind, data this CRM
does not have), is a `RuleError` carrying the line, column (both 1-based) and offset (0-based) it
points at. Shopify's filter names and functions are translated into our conditions (shopify.py).
"""

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from crm_segments.domain.rules import shopify
from crm_segments.domain.rules.attributes import ATTRIBUTES, ORDERED, Kind
from crm_segments.domain.rules.shopify import Arg
from crm_segments.domain.rules.tree import (
    AbsDate,
    And,
    Anniversary,
    Between,
    Bool,
    Compare,
    Contains,
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

__all__ = [
    "AbsDate",
    "And",
    "Anniversary",
    "Between",
    "Bool",
    "Compare",
    "Contains",
    "IsNull",
    "NamedDate",
    "Node",
    "Not",
    "Number",
    "Or",
    "Position",
    "RelDate",
    "RfmGroup",
    "RuleError",
    "Text",
    "Value",
    "has_relative_dates",
    "parse",
    "render",
]

MAX_RULE_LENGTH = 10_000
MAX_DEPTH = 100  # nesting of AND/OR/NOT; keeps the compilers' recursion far from its limit
MAX_NUMBER = Decimal(10) ** 12  # keeps minor units far inside int64 and exact in a double

GRAMMAR = r"""
?start: or_
?or_: and_ (_OR and_)*
?and_: not_ (_AND not_)*
?not_: _NOT not_ -> negation
     | atom
?atom: "(" or_ ")"
     | ATTR OP value -> compare
     | ATTR _BETWEEN value _AND value -> between
     | ATTR _CONTAINS value -> contains
     | ATTR _NOT _CONTAINS value -> not_contains
     | ATTR _IS _NULL -> is_null
     | ATTR _IS _NOT _NULL -> is_not_null
     | call OP value -> call_compare
     | call _BETWEEN value _AND value -> call_between
call: ATTR "(" [param ("," param)*] ")"
param: ATTR ":" argument
?argument: value
     | "(" value ("," value)* ")" -> values
     | OP value -> bound
?value: NUMBER | STRING | DATE | RELDATE | NAMEDDATE | TRUE | FALSE
_OR.3: /or\b/i
_AND.3: /and\b/i
_NOT.3: /not\b/i
_BETWEEN.3: /between\b/i
_CONTAINS.3: /contains\b/i
_IS.3: /is\b/i
_NULL.3: /null\b/i
TRUE.3: /true\b/i
FALSE.3: /false\b/i
NAMEDDATE.3: /(today|yesterday|start_of_month|end_of_month|\d{1,5}_(days|weeks|months|years)_ago)\b/i
ATTR: /[a-z_][a-z0-9_]*(\.[a-z_][a-z0-9_]*)*/i
OP: ">=" | "<=" | "!=" | "=" | "<" | ">"
DATE.2: /\d{4}-\d{2}-\d{2}(?![\w.])/
RELDATE.2: /[-+]\d{1,5}[dwmy](?!\w)/
NUMBER: /-?\d+(\.\d+)?(?![\w.])/
STRING: /'(?:[^'\\\n]|\\.)*'/ | /"(?:[^"\\\n]|\\.)*"/
%ignore /\s+/
"""

_parser = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


def _position(text: str, offset: int) -> Position:
    offset = max(0, min(offset, len(text)))
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return Position(line, column, offset)


def _at(text: str, token: Token) -> Position:
    return _position(text, token.start_pos or 0)


_NAMES = {
    "NUMBER": "a number",
    "STRING": "a quoted text",
    "DATE": "a date (2026-01-31)",
    "RELDATE": "a relative date (-30d)",
    "NAMEDDATE": "a named date (today)",
    "TRUE": "true",
    "FALSE": "false",
    "ATTR": "an attribute",
    "OP": "a comparison (= != < <= > >=)",
    "LPAR": "'('",
    "RPAR": "')'",
    "COMMA": "','",
    "COLON": "':'",
    "_OR": "OR",
    "_AND": "AND",
    "_NOT": "NOT",
    "_BETWEEN": "BETWEEN",
    "_CONTAINS": "CONTAINS",
    "_IS": "IS",
    "_NULL": "NULL",
    "$END": "the end of the rule",
}


def _token(child: Tree | Token) -> Token:
    """A child the grammar makes a token (an attribute, operator or value, never a subtree)."""
    if not isinstance(child, Token):
        raise AssertionError(f"expected a token, got {child!r}")  # pragma: no cover - grammar
    return child


def _expected(names: set[str]) -> str:
    shown = sorted({_NAMES.get(n, n) for n in names})
    return ", ".join(shown) if shown else "something else"


def parse(text: str) -> Node:
    """The syntax tree of `text`, or RuleError pointing at the first problem."""
    if len(text) > MAX_RULE_LENGTH:
        raise RuleError(f"rule longer than {MAX_RULE_LENGTH} characters", _position(text, MAX_RULE_LENGTH))
    if not text.strip():
        raise RuleError("the rule is empty", _position(text, 0))
    try:
        tree = _parser.parse(text)
    except UnexpectedToken as e:
        token = e.token
        if token.type == "$END":
            raise RuleError(
                f"unexpected end of rule, expected {_expected(e.expected)}", _position(text, len(text))
            ) from None
        raise RuleError(
            f"unexpected {str(token)!r}, expected {_expected(e.expected)}", _at(text, token)
        ) from None
    except UnexpectedCharacters as e:
        at = e.pos_in_stream or 0  # lark always sets it for this error; typed optional
        raise RuleError(f"unexpected character {text[at]!r}", _position(text, at)) from None
    except UnexpectedEOF as e:
        raise RuleError(
            f"unexpected end of rule, expected {_expected(set(e.expected))}", _position(text, len(text))
        ) from None
    except UnexpectedInput as e:  # any other parse error still has a position
        raise RuleError("invalid rule", _position(text, getattr(e, "pos_in_stream", 0) or 0)) from None
    return _Builder(text).node(tree)


class _Builder:
    """Turns the Lark tree into the typed tree, checking attributes and value kinds."""

    def __init__(self, text: str) -> None:
        self.text = text

    def node(self, t: Tree | Token, depth: int = 0) -> Node:
        if not isinstance(t, Tree):
            raise AssertionError(f"expected a condition, got {t!r}")  # pragma: no cover - grammar
        kind = t.data
        c = t.children
        if depth > MAX_DEPTH:
            raise RuleError(
                f"rule nested more than {MAX_DEPTH} levels deep", _position(self.text, t.meta.start_pos)
            )
        if kind == "or_":
            return Or(tuple(self.node(x, depth + 1) for x in c))
        if kind == "and_":
            return And(tuple(self.node(x, depth + 1) for x in c))
        if kind == "negation":
            return Not(self.node(c[0], depth + 1))
        if kind in ("call_compare", "call_between"):
            return self.call(t)
        # Every other condition is ATTR followed by tokens: an operator and values, or none.
        attr_token, *rest = (_token(x) for x in c)
        name = str(attr_token).lower()
        if name not in ATTRIBUTES:
            return self.shopify(kind, name, attr_token, rest)
        return self.condition(kind, name, attr_token, rest)

    def condition(self, kind: str, attr: str, attr_token: Token, rest: list[Token]) -> Node:
        a_kind = ATTRIBUTES[attr]
        if kind == "compare":
            op_token, value_token = rest
            op = str(op_token)
            if op not in ("=", "!=") and a_kind not in ORDERED:
                raise RuleError(f"{op} does not apply to {attr} (only = and !=)", _at(self.text, op_token))
            if a_kind is Kind.LIST:
                raise RuleError(f"{attr} is a list: use CONTAINS or NOT CONTAINS", _at(self.text, op_token))
            return Compare(attr, op, self.value(value_token, attr))
        if kind == "between":
            if a_kind not in ORDERED:
                raise RuleError(f"BETWEEN does not apply to {attr}", _at(self.text, attr_token))
            low, high = rest
            return Between(attr, self.value(low, attr), self.value(high, attr))
        if kind in ("contains", "not_contains"):
            if a_kind is not Kind.LIST:
                raise RuleError(f"CONTAINS applies to lists only, not to {attr}", _at(self.text, attr_token))
            value = self.value(rest[0], attr)
            assert isinstance(value, Text)
            return Contains(attr, value, negated=kind == "not_contains")
        if kind in ("is_null", "is_not_null"):
            if a_kind is Kind.LIST:
                raise RuleError(f"{attr} is a list and never null", _at(self.text, attr_token))
            return IsNull(attr, negated=kind == "is_not_null")
        raise AssertionError(kind)  # pragma: no cover - the grammar has no other rule

    def shopify(self, kind: str, name: str, attr_token: Token, rest: list[Token]) -> Node:
        """A Shopify filter name: renamed to ours, translated, or refused with the reason."""
        at = _at(self.text, attr_token)
        renamed = shopify.RENAMED.get(name)
        if renamed is not None:
            return self.condition(kind, renamed, attr_token, rest)
        if name not in shopify.FILTERS:
            raise RuleError(*shopify.unknown(name, function=False), at, attribute=str(attr_token))
        op = str(rest[0]) if kind == "compare" else None
        values = [self.literal(x) for x in (rest[1:] if kind == "compare" else rest)]
        return shopify.filter_condition(name, kind, op, values, at)

    def call(self, t: Tree) -> Node:
        call, *rest = t.children
        assert isinstance(call, Tree)
        name_token, *params = call.children
        name_token = _token(name_token)
        name = str(name_token).lower()
        at = _at(self.text, name_token)
        if name not in shopify.FUNCTIONS:
            raise RuleError(*shopify.unknown(name, function=True), at, attribute=str(name_token))
        args: dict[str, Arg] = {}
        for p in params:
            assert isinstance(p, Tree)
            key_token, argument = p.children
            key = str(_token(key_token)).lower()
            key_at = _at(self.text, _token(key_token))
            if key in args:
                raise RuleError(f"{name}(): parameter {key!r} given twice", key_at, attribute=name)
            args[key] = self.argument(argument, key_at)
        tokens = [_token(x) for x in rest]
        if t.data == "call_compare":
            op, values = str(tokens[0]), [self.literal(tokens[1])]
            form = "compare"
        else:
            op, values, form = None, [self.literal(x) for x in tokens], "between"
        return shopify.function_condition(name, args, form, op, values, at)

    def argument(self, a: Tree | Token, at: Position) -> Arg:
        if isinstance(a, Token):
            return Arg((self.literal(a),), None, at)
        if a.data == "bound":
            op, value = (_token(x) for x in a.children)
            return Arg((self.literal(value),), str(op), at)
        return Arg(tuple(self.literal(_token(x)) for x in a.children), None, at)  # values

    def literal(self, token: Token) -> Value:
        """A value as written, whatever attribute it is for."""
        t, s, pos = token.type, str(token), _at(self.text, token)
        if t == "NUMBER":
            number = Decimal(s)
            if abs(number) >= MAX_NUMBER:
                raise RuleError(f"number out of range (at most {MAX_NUMBER:,})", pos)
            return Number(number)
        if t == "STRING":
            return Text(_unquote(s))
        if t in ("TRUE", "FALSE"):
            return Bool(t == "TRUE")
        if t == "RELDATE":
            return RelDate(int(s[1:-1]), s[-1].lower(), forward=s[0] == "+")
        if t == "NAMEDDATE":
            return _named_date(s)
        try:
            return AbsDate(date.fromisoformat(s))
        except ValueError:
            raise RuleError(f"no such date {s}", pos) from None

    def value(self, token: Token, attr: str) -> Value:
        kind = ATTRIBUTES[attr]
        pos = _at(self.text, token)
        t = token.type
        if kind in (Kind.MONEY, Kind.NUMBER):
            if t != "NUMBER":
                raise RuleError(f"{attr} needs a number", pos)
            try:
                number = Decimal(str(token))
            except InvalidOperation:  # pragma: no cover - the grammar only lets numbers through
                raise RuleError("invalid number", pos) from None
            if abs(number) >= MAX_NUMBER:
                raise RuleError(f"number out of range (at most {MAX_NUMBER:,})", pos)
            return Number(number)
        if kind in (Kind.DATE, Kind.DAY):
            if t not in ("RELDATE", "DATE", "NAMEDDATE"):
                raise RuleError(
                    f"{attr} needs a date (2026-01-31), a relative date (-30d) or a named date (today)", pos
                )
            return self.literal(token)
        if kind is Kind.BOOL:
            if t not in ("TRUE", "FALSE"):
                raise RuleError(f"{attr} needs true or false", pos)
            return Bool(t == "TRUE")
        if t != "STRING":
            raise RuleError(f"{attr} needs a quoted text", pos)
        return Text(_unquote(str(token)))


_UNITS = {"days": "d", "weeks": "w", "months": "m", "years": "y"}
MONTH_ANCHORS = ("start_of_month", "end_of_month")


def _named_date(s: str) -> NamedDate:
    s = s.lower()
    if s == "today":
        return NamedDate(0, "d")
    if s == "yesterday":
        return NamedDate(1, "d")
    if s in MONTH_ANCHORS:
        return NamedDate(0, "d", anchor=s)
    amount, unit, _ = s.split("_")
    return NamedDate(int(amount), _UNITS[unit])


_ESCAPE = re.compile(r"\\(.)")


def _unquote(s: str) -> str:
    return _ESCAPE.sub(r"\1", s[1:-1])


def quote(s: str) -> str:
    return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"


def render(node: Node) -> str:
    """Rule text for a tree; parse(render(n)) == n. Used by tests and to show normalised rules."""
    if isinstance(node, Or):
        return " OR ".join(_wrap(x, (Or,)) for x in node.items)
    if isinstance(node, And):
        return " AND ".join(_wrap(x, (Or, And)) for x in node.items)
    if isinstance(node, Not):
        return "NOT " + _wrap(node.item, (Or, And))
    if isinstance(node, Compare):
        return f"{node.attr} {node.op} {render_value(node.value)}"
    if isinstance(node, Between):
        return f"{node.attr} BETWEEN {render_value(node.low)} AND {render_value(node.high)}"
    if isinstance(node, Contains):
        return f"{node.attr} {'NOT ' if node.negated else ''}CONTAINS {render_value(node.value)}"
    if isinstance(node, IsNull):
        return f"{node.attr} IS {'NOT ' if node.negated else ''}NULL"
    if isinstance(node, Anniversary):
        return f"anniversary(date: 'birthday') BETWEEN {render_value(node.low)} AND {render_value(node.high)}"
    if isinstance(node, RfmGroup):
        return f"rfm_group = {quote(node.group)}"
    raise TypeError(node)


def _wrap(node: Node, group: tuple[type, ...]) -> str:
    return f"({render(node)})" if isinstance(node, group) else render(node)


def render_value(v: Value) -> str:
    if isinstance(v, Number):
        return format(v.value, "f")
    if isinstance(v, Text):
        return quote(v.value)
    if isinstance(v, Bool):
        return "true" if v.value else "false"
    if isinstance(v, AbsDate):
        return v.value.isoformat()
    if isinstance(v, NamedDate):
        if v.anchor:
            return v.anchor
        if v.unit == "d" and v.amount in (0, 1):
            return "today" if v.amount == 0 else "yesterday"
        unit = {u: name for name, u in _UNITS.items()}[v.unit]
        return f"{v.amount}_{unit}_ago"
    return f"{'+' if v.forward else '-'}{v.amount}{v.unit}"


def _moves(v: Value) -> bool:
    return isinstance(v, (RelDate, NamedDate))


def has_relative_dates(node: Node) -> bool:
    """Whether the rule's meaning changes as time passes (it then needs periodic re-evaluation):
    relative and named dates, and RFM groups (the scores move with every other customer)."""
    if isinstance(node, (And, Or)):
        return any(has_relative_dates(x) for x in node.items)
    if isinstance(node, Not):
        return has_relative_dates(node.item)
    if isinstance(node, Compare):
        return _moves(node.value)
    if isinstance(node, (Between, Anniversary)):
        return _moves(node.low) or _moves(node.high)
    return isinstance(node, RfmGroup)


def uses_rfm(node: Node) -> bool:
    """Whether compiling the rule needs the current RFM scores."""
    if isinstance(node, (And, Or)):
        return any(uses_rfm(x) for x in node.items)
    if isinstance(node, Not):
        return uses_rfm(node.item)
    return isinstance(node, RfmGroup)
