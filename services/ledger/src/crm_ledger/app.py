"""Wiring of the ledger service: settings, stores, use cases, context, routes, handlers, the
outbox and the expiry job."""

from crm_ledger.api import router
from crm_ledger.context import Context
from crm_ledger.domain import CouponTerms, Program, Threshold
from crm_ledger.handlers import handlers
from crm_ledger.service import Credit, Customers, Ledger, PersonalData, Programmes, Rewards
from crm_ledger.settings import LedgerSettings
from crm_ledger.store import Store
from crm_servicekit.idempotency import IdempotencyKeys
from crm_servicekit.service import Periodic, Runtime, Service, Wiring


def default_program(s: LedgerSettings) -> Program:
    """Version 0 of the programme `default`: the environment settings, until it is changed
    over HTTP (/v1/reward-programmes/default)."""
    coupon = CouponTerms(
        s.reward_coupon_kind,
        s.reward_coupon_value,
        s.reward_coupon_currency if s.reward_coupon_kind == "amount" else None,
        s.reward_coupon_days,
    )
    return Program(
        points_per_unit=s.reward_points_per_unit,
        thresholds=(Threshold(s.reward_target, coupon),),
        currency=s.reward_currency,
    )


async def setup(rt: Runtime) -> Wiring[Context]:
    settings: LedgerSettings = rt.settings  # type: ignore[assignment]
    store = Store(rt.db, rt.notify_outbox)
    idempotency = IdempotencyKeys(rt.db["idempotency_keys"], expire_hours=settings.idempotency_key_hours)
    credit = Credit(store.groups, store.directory)
    ledger = Ledger(store.journal, settings.source, settings.hold_default_seconds, credit.limit)
    programmes = Programmes(store.programmes, default_program(settings), settings.programme_cache_seconds)
    rewards = Rewards(store.rewards, programmes, settings.source, take_back_points=settings.take_back_points)
    customers = Customers(
        ledger,
        rewards,
        store.directory,
        store.journal,
        idempotency,
        settings.unknown_customer_grace_seconds,
        settings.unknown_customer_http_wait_seconds,
        credit=credit,
    )
    return Wiring(
        Context(
            settings,
            ledger,
            rewards,
            customers,
            idempotency,
            credit,
            PersonalData(customers, store.answers, settings.source),
        ),
        indexes={**store.indexes, **idempotency.indexes},
        outbox=store.outbox_sources(),
        periodic=[
            Periodic("expire-holds-and-credit", settings.expiry_job_seconds, ledger.expire_due),
            Periodic("birthday-rewards", settings.birthday_job_seconds, customers.birthday_pass),
            Periodic("expire-points", settings.points_expiry_job_seconds, rewards.expire_due),
            Periodic(
                "purge-expired-idempotency-keys",
                min(3600.0, settings.idempotency_key_hours * 1800),  # hourly, or twice per expiry
                idempotency.purge,
            ),
            Periodic(  # each process's cache
                "reload-reward-programmes",
                max(settings.programme_cache_seconds, 0.1),
                programmes.refresh,
                every_replica=True,
            ),
        ],
    )


service = Service("ledger", LedgerSettings, setup=setup, handlers=handlers, routers=[router])
