"""The console's pure rules: when repeated failures lock an account, what a password and a staff
e-mail must be, and money as staff read it."""

from datetime import UTC, datetime, timedelta

from crm_console.domain.staff import check_email, check_password, locked_until
from crm_console.web import money

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
WINDOW = timedelta(minutes=15)


def test_an_account_locks_at_the_limit_within_the_window_and_opens_a_window_after_the_last_failure():
    four = [NOW - timedelta(minutes=m) for m in (1, 2, 3, 4)]
    assert locked_until(four, limit=5, window=WINDOW, now=NOW) is None
    five = [*four, NOW - timedelta(seconds=10)]
    assert locked_until(five, limit=5, window=WINDOW, now=NOW) == NOW - timedelta(seconds=10) + WINDOW


def test_failures_older_than_the_window_do_not_count():
    old = [NOW - timedelta(minutes=20 + m) for m in range(10)]
    assert locked_until(old, limit=5, window=WINDOW, now=NOW) is None


def test_passwords_and_emails():
    assert check_password("a" * 11) == "At least 12 characters"
    assert check_password("a" * 12) is None
    assert check_password("a" * 201) == "At most 200 characters"
    assert check_email("maria@shop.example") is None
    assert check_email("maria") is not None and check_email("a b@c.d") is not None


def test_money_uses_the_currencys_minor_unit():
    assert money(12999, "EUR") == "129.99 EUR"
    assert money(-550, "USD") == "-5.50 USD"
    assert money(1200, "JPY") == "1,200 JPY"
    assert money(1234, "KWD") == "1.234 KWD"
    assert money(None, "EUR") == "—"


def test_amounts_typed_by_staff_become_minor_units_or_a_plain_message():
    from crm_console.domain.money import parse

    assert parse("12.50", "EUR") == 1250 and parse("12,50", "EUR") == 1250 and parse("1,000", "JPY") == 1000
    assert parse("1.5", "KWD") == 1500
    for bad, message in [
        ("abc", "such as 12.50"),
        ("0", "greater than zero"),
        ("1.234", "At most 2 decimals"),
    ]:
        try:
            parse(bad, "EUR")
        except ValueError as e:
            assert message in str(e)
        else:
            raise AssertionError(bad)
