"""Money in the base currency. Profiles hold integers in minor units of the base currency
(CRM_BASE_CURRENCY); rules and analytics speak of it. Amounts in another currency count only if
a fixed rate for it is configured (CRM_FX_RATES); otherwise they are left out, never guessed."""

from decimal import ROUND_FLOOR, Decimal

from crm_contracts.types import minor_digits as exponent


class BaseMoney:
    def __init__(self, base: str, rates: dict[str, Decimal] | None = None) -> None:
        self.base = base
        self.rates = {k: Decimal(v) for k, v in (rates or {}).items()}

    @property
    def scale(self) -> int:
        """Minor units per major unit of the base currency."""
        return 10 ** exponent(self.base)

    def counts(self, currency: str) -> bool:
        return currency == self.base or currency in self.rates

    def to_base(self, minor: int, currency: str) -> int | None:
        """`minor` units of `currency` in minor units of the base (rounded down), or None if
        the currency does not count."""
        if currency == self.base:
            return minor
        rate = self.rates.get(currency)
        if rate is None:
            return None
        major = Decimal(minor) / (10 ** exponent(currency))
        return int((major * rate * self.scale).to_integral_value(rounding=ROUND_FLOOR))
