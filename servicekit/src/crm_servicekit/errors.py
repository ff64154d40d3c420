"""Domain errors: what a use case raises when it cannot do what was asked. Pure (no I/O, no
HTTP), so domain code may raise them. servicekit maps them once: `problems` renders them as
RFC 9457 responses; the event consumer dead-letters the permanent ones and retries the
transient ones (`transient = True`)."""

from typing import Any, ClassVar


class DomainError(Exception):
    """Base: a status and problem slug for HTTP, a detail for people, extra members for both."""

    status: ClassVar[int] = 422
    default_slug: ClassVar[str] = "unprocessable"
    default_title: ClassVar[str] = "Unprocessable request"
    transient: ClassVar[bool] = False

    def __init__(
        self, detail: str | None = None, *, slug: str | None = None, title: str | None = None, **extra: Any
    ) -> None:
        self.slug = slug or self.default_slug
        self.title = title or self.default_title
        self.detail = detail
        self.extra = extra
        super().__init__(detail or self.title)


class NotFound(DomainError):
    """The thing named does not exist (or no longer does)."""

    status = 404
    default_slug = "not-found"
    default_title = "Not found"

    def __init__(self, what: str, id_: str, **extra: Any) -> None:
        super().__init__(f"no {what.lower()} with id {id_!r}", title=f"{what} not found", **extra)


class NotKnownYet(DomainError):
    """What an event needs is not known yet, and may be in flight (the customer.created beside
    an order that names its customer only by e-mail). Events are retried with growing pauses,
    then dead-lettered with this as the last error (CRM_DELIVERY_LIMIT)."""

    status = 404
    default_slug = "not-found"
    default_title = "Not known yet"
    transient = True


class Invalid(DomainError):
    """The input breaks a rule that the request's schema cannot express (or an event that can
    never be processed). `errors` lists {field, message} pairs where a field is to blame."""

    status = 422
    default_slug = "validation-error"
    default_title = "Invalid input"


class Conflict(DomainError):
    """The request is valid but the current state forbids it (taken e-mail, used coupon...)."""

    status = 409
    default_slug = "conflict"
    default_title = "Conflict"

    def __init__(self, slug: str, title: str, detail: str | None = None, **extra: Any) -> None:
        super().__init__(detail, slug=slug, title=title, **extra)


class InsufficientFunds(Conflict):
    """A debit larger than what the account allows."""

    def __init__(self, detail: str | None = None, **extra: Any) -> None:
        super().__init__("insufficient-funds", "Insufficient funds", detail, **extra)


class Forbidden(DomainError):
    """Authenticated, but this proof or this actor may not do it (a wrong current password)."""

    status = 403
    default_slug = "forbidden"
    default_title = "Forbidden"


class Busy(DomainError):
    """Too many concurrent changes to the same thing: try again shortly. Events are retried."""

    status = 503
    default_slug = "contention"
    default_title = "Too many concurrent changes"
    transient = True
