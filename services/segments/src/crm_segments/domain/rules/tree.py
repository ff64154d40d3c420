"""The typed syntax tree of a segment rule: values and conditions (syntax.py builds it, compile.py
compiles it, shopify.py translates Shopify's filters into it)."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

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
    """`-30d` is RelDate(30, "d"), the instant thirty days before now; `+7d` is RelDate(7, "d",
    forward=True), seven days after now."""

    amount: int
    unit: str  # d, w, m, y
    forward: bool = False


@dataclass(frozen=True)
class NamedDate:
    """Shopify's named dates, each a whole day in the store's time zone: `today` is
    NamedDate(0, "d"), `yesterday` NamedDate(1, "d"), `12_months_ago` NamedDate(12, "m"); ours,
    `start_of_month` and `end_of_month` (the first and last day of this month, for "birthday
    this month"), have that name as `anchor`."""

    amount: int
    unit: str  # d, w, m, y
    anchor: str | None = None


Value = Number | Text | Bool | AbsDate | RelDate | NamedDate
DateValue = AbsDate | RelDate | NamedDate

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
class Anniversary:
    """The birthday's day and month fall between `low` and `high` (the year does not count);
    `anniversary(date: 'birthday') = today` is Anniversary(today, today)."""

    low: DateValue
    high: DateValue


@dataclass(frozen=True)
class RfmGroup:
    """The customer's named RFM group (rfm.py) is `group`, e.g. "champions"."""

    group: str


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    item: "Node"


Node = Compare | Between | Contains | IsNull | Anniversary | RfmGroup | And | Or | Not


# Errors -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Position:
    line: int
    column: int
    offset: int


class RuleError(ValueError):
    """What is wrong with a rule and where; `attribute` names the filter a refusal is about."""

    def __init__(self, message: str, position: Position, attribute: str | None = None) -> None:
        super().__init__(f"{message} at line {position.line}, column {position.column}")
        self.message = message
        self.position = position
        self.attribute = attribute
