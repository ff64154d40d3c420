"""Wiring of the ledger service: settings, stores, use cases, context, routes, handlers, the
outbox and the expiry job."""

from crm_ledger.api import router
from crm_ledger.context import Context
from crm_ledger.domain import Program
from crm_ledger.handlers import handlers
from crm_ledger.service import Customers, Ledger, Rewards
from crm_ledger.settings import LedgerSettings
from crm_ledger.store import Store
from crm_servicekit.idempotency import IdempotencyKeys
from crm_servicekit.service import Periodic, Runtime, Service, Wiring


def program(s: LedgerSettings) -> Program:
    return Program(
        points_per_unit=s.reward_points_per_unit,
        target=s.reward_target,
        coupon_kind=s.reward_coupon_kind,
        coupon_value=s.reward_coupon_value,
        coupon_currency=s.reward_coupon_currency,
        coupon_days=s.reward_coupon_days,
        currency=s.reward_currency,
    )


async def setup(rt: Runtime) -> Wiring[Context]:
    settings: LedgerSettings = rt.settings  # type: ignore[assignment]
    store = Store(rt.db, rt.notify_outbox)
    idempotency = IdempotencyKeys(rt.db["idempotency_keys"])
    ledger = Ledger(store.journal, settings.source, settings.hold_default_seconds)
    rewards = Rewards(store.rewards, program(settings), settings.source)
    customers = Customers(
        ledger,
        rewards,
        store.directory,
        store.journal,
        idempotency,
        settings.unknown_customer_grace_seconds,
    )
    return Wiring(
        Context(settings, ledger, rewards, customers, idempotency),
        indexes={**store.indexes, **idempotency.indexes},
        outbox=store.outbox_sources(),
        periodic=[Periodic("expire-holds-and-credit", settings.expiry_job_seconds, ledger.expire_due)],
    )


service = Service("ledger", LedgerSettings, setup=setup, handlers=handlers, routers=[router])
