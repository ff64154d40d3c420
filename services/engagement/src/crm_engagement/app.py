"""Wiring of the engagement service: settings, store, context, routes, handlers, the sender
and the campaign job."""

from fastapi import FastAPI

from crm_engagement.api import public, router
from crm_engagement.context import Context
from crm_engagement.handlers import handlers
from crm_engagement.settings import EngagementSettings
from crm_engagement.store import EngagementStore
from crm_servicekit.service import Periodic, Runtime, Service, Wiring
from crm_servicekit.settings import ServiceSettings


async def setup(rt: Runtime) -> Wiring[Context]:
    settings: EngagementSettings = rt.settings  # type: ignore[assignment]
    store = EngagementStore(rt.db, rt.notify_outbox)
    secret = settings.link_secret or await store.secret("unsubscribe-links")
    ctx = Context.wire(settings, store, secret, rt.notify_outbox)
    await ctx.templates.seed()
    await ctx.automations.seed()
    return Wiring(
        ctx,
        indexes=store.indexes,
        outbox=store.outbox_sources(),
        periodic=[
            # A worker: replicas share the outbox of mails (each claimed by a unique key).
            Periodic("send-mail", settings.send_every_seconds, ctx.sender.run_once, every_replica=True),
            Periodic("campaigns", settings.campaign_every_seconds, ctx.campaigns.tick),
            Periodic(
                "review-requests", settings.automation_every_seconds, ctx.automations.send_due_review_requests
            ),
        ],
    )


class EngagementService(Service):
    def app(self, settings: ServiceSettings | None = None) -> FastAPI:
        app = super().app(settings)
        app.include_router(public)  # outside /v1: reached from mail, proven by a signed token
        return app


service = EngagementService(
    "engagement", EngagementSettings, setup=setup, handlers=handlers, routers=[router]
)
