"""Money as staff type and read it: integers in minor units with a currency code underneath;
"12.50 EUR" on the screen. One table of minor units for every page."""

from decimal import Decimal, InvalidOperation

# ISO 4217 minor-unit exponents other than 2 (the same table as the ledger's)
_EXPONENTS = {
    **dict.fromkeys(
        ("BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "UYI", "VND"), 0
    ),
    **dict.fromkeys(("VUV", "XAF", "XOF", "XPF"), 0),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
}


def minor_digits(currency: str | None) -> int:
    return _EXPONENTS.get((currency or "").upper(), 2)


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
