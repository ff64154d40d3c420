"""Wiring of the ledger service."""

from crm_ledger import rewards
from crm_ledger.api import router
from crm_ledger.directory import Directory
from crm_ledger.handlers import Context, handlers
from crm_ledger.operations import Ledger, Rewards
from crm_ledger.reward_store import RewardStore
from crm_ledger.settings import LedgerSettings
from crm_ledger.store import Journal
from crm_servicekit.idempotency import IdempotencyKeys
from crm_servicekit.service import Periodic, Runtime, Service, Wiring


def program(s: LedgerSettings) -> rewards.Program:
    return rewards.Program(
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
    journal = Journal(rt.db, rt.notify_outbox)
    reward_store = RewardStore(rt.db, rt.notify_outbox)
    directory = Directory(rt.db)
    idempotency = IdempotencyKeys(rt.db["idempotency_keys"])
    ledger = Ledger(journal, settings.source, settings.hold_default_seconds)
    ctx = Context(
        ledger,
        Rewards(reward_store, program(settings), settings.source),
        directory,
        idempotency,
        settings.unknown_customer_grace_seconds,
    )
    return Wiring(
        ctx,
        indexes={**journal.indexes, **reward_store.indexes, **directory.indexes, **idempotency.indexes},
        outbox=[*journal.outbox_sources(), reward_store.outbox_source()],
        periodic=[Periodic("expire-holds-and-credit", settings.expiry_job_seconds, ledger.expire_due)],
    )


service = Service("ledger", LedgerSettings, setup=setup, handlers=handlers, routers=[router])
