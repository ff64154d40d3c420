"""Field types shared by every contract: money in minor units, currency codes, UTC times."""

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

CurrencyCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{3}$"),
    Field(description="ISO 4217 alphabetic code, e.g. EUR", examples=["EUR"]),
]
"""ISO 4217 code: three capital letters."""

MinorUnits = Annotated[
    int,
    Field(ge=0, description="Amount in the currency's minor units (cents); never a float"),
]
"""A non-negative amount of money in minor units. Floats never carry money."""

CountryCode = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Z]{2}$"),
    Field(description="ISO 3166-1 alpha-2 country code", examples=["PT"]),
]


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
"""A timezone-aware time (RFC 3339 with offset), normalised to UTC. Naive times are refused."""


def email_key(email: str) -> str:
    """What identifies a customer's e-mail: case and surrounding blanks do not count."""
    return email.strip().lower()


def utcnow() -> datetime:
    return datetime.now(UTC)


class Contract(BaseModel):
    """Base of every event payload: unknown fields are kept out of the way but tolerated,
    so a producer may add fields without breaking consumers (forward compatibility)."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class Money(Contract):
    amount: int = Field(description="Minor units; negative only where a field says so")
    currency: CurrencyCode


# ISO 4217 minor-unit exponents that are not 2: every amount is an integer in minor units, and
# what a minor unit is worth depends on the currency.
_MINOR_DIGITS = {
    **dict.fromkeys("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF".split(), 0),
    **dict.fromkeys("BHD IQD JOD KWD LYD OMR TND".split(), 3),
}


def minor_digits(currency: str | None) -> int:
    """Decimal places of a currency's minor unit: EUR 2, JPY 0, KWD 3 (2 when unknown)."""
    return _MINOR_DIGITS.get((currency or "").upper(), 2)
