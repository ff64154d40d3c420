"""HTTP API of the engagement service, one router per feature: `router` (all of them) is
served under /v1 behind the bearer token; `public` (the unsubscribe, survey and preference pages) outside
it."""

from fastapi import APIRouter

from crm_engagement.api import mail, preferences, reviews, surveys, tickets

router = APIRouter()
router.include_router(mail.router)
router.include_router(tickets.router)
router.include_router(reviews.router)
router.include_router(surveys.router)
router.include_router(preferences.router)

public = APIRouter()
public.include_router(mail.public)
public.include_router(surveys.public)
public.include_router(preferences.public)

__all__ = ["public", "router"]
