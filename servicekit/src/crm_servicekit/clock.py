"""Times as the database keeps them: BSON dates hold milliseconds, so a time is truncated to
the millisecond before it is stored or compared with a stored one (otherwise a value read back
differs from the one written and version checks or cursors misfire)."""

from datetime import UTC, datetime


def to_ms(t: datetime) -> datetime:
    """`t` in UTC, truncated to the millisecond."""
    t = t.astimezone(UTC)
    return t.replace(microsecond=t.microsecond // 1000 * 1000)


def now_ms() -> datetime:
    """The current UTC time, truncated to the millisecond."""
    return to_ms(datetime.now(UTC))
