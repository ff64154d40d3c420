"""Who a ticket or a review is from: a customer id, an e-mail, or both, completed from what
this service knows of its contacts (customer.* events)."""

from dataclasses import dataclass

from crm_contracts.types import email_key
from crm_engagement.store import EngagementStore
from crm_servicekit.errors import Invalid


@dataclass(frozen=True)
class Who:
    customer_id: str | None
    email: str | None
    email_key: str | None

    def is_one_of(self, customer_id: str | None, key: str | None) -> bool:
        """The same person as a ticket's or review's customer: the same id or the same e-mail."""
        return bool(
            (self.customer_id is not None and self.customer_id == customer_id)
            or (self.email_key is not None and self.email_key == key)
        )


async def identify(store: EngagementStore, customer_id: str | None, email: str | None) -> Who:
    """An id this service has not heard of is taken as given: the customer may be newer than
    the last customer.* event received."""
    if customer_id is None and email is None:
        raise Invalid(
            "name the customer by customer_id or email",
            errors=[
                {"field": "customer_id", "message": "customer_id or email is required"},
                {"field": "email", "message": "customer_id or email is required"},
            ],
        )
    if customer_id is not None and email is None:
        contact = await store.contact(customer_id)
        email = contact["email"] if contact else None
    elif customer_id is None and email is not None:
        contact = await store.contact_by_email(email_key(email))
        customer_id = contact["_id"] if contact else None
    return Who(customer_id, email, email_key(email) if email else None)
