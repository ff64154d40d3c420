"""HTTP API of the engagement service, one router per feature: `router` (all of them) is
served under /v1 behind the bearer token; `public` (the unsubscribe page) outside it."""

from fastapi import APIRouter

from crm_engagement.api import mail, reviews, tickets
from crm_engagement.api.mail import public

router = APIRouter()
router.include_router(mail.router)
router.include_router(tickets.router)
router.include_router(reviews.router)

__all__ = ["public", "router"]
