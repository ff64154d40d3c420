"""Money as staff type and read it: integers in minor units with a currency code underneath;
"12.50 EUR" on the screen, with the minor units of crm_contracts.types (as the services)."""

from decimal import Decimal, InvalidOperation

from crm_contracts.types import minor_digits


def show(amount: int | None, currency: str | None = None) -> str:
    """12999 EUR -> "129.99 EUR"; 1200 JPY -> "1,200 JPY"."""
    if amount is None:
        return "—"
    digits = minor_digits(currency)
    value = f"{amount / 10**digits:,.{digits}f}" if digits else f"{amount:,}"
    return f"{value} {currency}".strip() if currency else value


def parse(typed: str, currency: str) -> int:
    """What staff typed, in minor units: "12.50" or "12,50" EUR -> 1250, "1,000" JPY -> 1000.
    ValueError with a message for people when it is not an amount greater than zero."""
    digits = minor_digits(currency)
    text = typed.strip().replace(" ", "").replace(",", "" if "." in typed or digits == 0 else ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("Type an amount such as 12.50") from None
    if not value.is_finite() or value <= 0:
        raise ValueError("Type an amount greater than zero")
    units = value.scaleb(digits)
    if units != units.to_integral_value():
        raise ValueError(
            f"At most {digits} decimals in {currency}" if digits else f"No decimals in {currency}"
        )
    return int(units)
