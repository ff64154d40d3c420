"""Parsing a segment rule (docs/contract.md §3) into a typed syntax tree, with a Lark LALR grammar.

Every error, syntactic or semantic (unknown attribute, a value of the wrong kind), is a
`RuleError` carrying the line, column (both 1-based) and offset (0-based) it points at.
"""

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from crm_segments.domain.rules.attributes import ATTRIBUTES, ORDERED, Kind

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
?value: NUMBER | STRING | DATE | RELDATE | TRUE | FALSE
_OR.3: /or\b/i
_AND.3: /and\b/i
_NOT.3: /not\b/i
_BETWEEN.3: /between\b/i
_CONTAINS.3: /contains\b/i
_IS.3: /is\b/i
_NULL.3: /null\b/i
TRUE.3: /true\b/i
FALSE.3: /false\b/i
ATTR: /[a-z_][a-z0-9_]*/i
OP: ">=" | "<=" | "!=" | "=" | "<" | ">"
DATE.2: /\d{4}-\d{2}-\d{2}(?![\w.])/
RELDATE.2: /-\d{1,5}[dwmy](?!\w)/
NUMBER: /-?\d+(\.\d+)?(?![\w.])/
STRING: /'(?:[^'\\\n]|\\.)*'/ | /"(?:[^"\\\n]|\\.)*"/
%ignore /\s+/
"""

_parser = Lark(GRAMMAR, parser="lalr", propagate_positions=True, maybe_placeholders=False)


@dataclass(frozen=True)
class Position:
    line: int
    column: int
    offset: int


class RuleError(ValueError):
    def __init__(self, message: str, position: Position) -> None:
        super().__init__(f"{message} at line {position.line}, column {position.column}")
        self.message = message
        self.position = position


# Values -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    value: Decimal


@dataclass(frozen=True)
class Text:
    value: str


@dataclass(frozen=True)
class Bool:
    value: bool


@dataclass(frozen=True)
class AbsDate:
    value: date


@dataclass(frozen=True)
class RelDate:
    amount: int
    unit: str  # d, w, m, y: `-30d` is RelDate(30, "d"), thirty days before now


Value = Number | Text | Bool | AbsDate | RelDate

# Conditions ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Compare:
    attr: str
    op: str  # = != < <= > >=
    value: Value


@dataclass(frozen=True)
class Between:
    attr: str
    low: Value
    high: Value


@dataclass(frozen=True)
class Contains:
    attr: str
    value: Text
    negated: bool = False


@dataclass(frozen=True)
class IsNull:
    attr: str
    negated: bool = False


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    item: "Node"


Node = Compare | Between | Contains | IsNull | And | Or | Not

# Parsing ------------------------------------------------------------------------------------


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
    "TRUE": "true",
    "FALSE": "false",
    "ATTR": "an attribute",
    "OP": "a comparison (= != < <= > >=)",
    "LPAR": "'('",
    "RPAR": "')'",
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
        # Every condition is ATTR followed by tokens: an operator and values, or none.
        attr_token, *rest = (_token(x) for x in c)
        attr = self.attribute(attr_token)
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

    def attribute(self, token: Token) -> str:
        name = str(token).lower()
        if name not in ATTRIBUTES:
            raise RuleError(f"unknown attribute {str(token)!r}", _at(self.text, token))
        return name

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
        if kind is Kind.DATE:
            if t == "RELDATE":
                return RelDate(int(str(token)[1:-1]), str(token)[-1].lower())
            if t != "DATE":
                raise RuleError(f"{attr} needs a date (2026-01-31) or a relative date (-30d)", pos)
            try:
                return AbsDate(date.fromisoformat(str(token)))
            except ValueError:
                raise RuleError(f"no such date {str(token)}", pos) from None
        if kind is Kind.BOOL:
            if t not in ("TRUE", "FALSE"):
                raise RuleError(f"{attr} needs true or false", pos)
            return Bool(t == "TRUE")
        if t != "STRING":
            raise RuleError(f"{attr} needs a quoted text", pos)
        return Text(_unquote(str(token)))


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
    return f"-{v.amount}{v.unit}"


def has_relative_dates(node: Node) -> bool:
    """Whether the rule's meaning changes as time passes (it then needs periodic re-evaluation)."""
    if isinstance(node, (And, Or)):
        return any(has_relative_dates(x) for x in node.items)
    if isinstance(node, Not):
        return has_relative_dates(node.item)
    if isinstance(node, Compare):
        return isinstance(node.value, RelDate)
    if isinstance(node, Between):
        return isinstance(node.low, RelDate) or isinstance(node.high, RelDate)
    return False
