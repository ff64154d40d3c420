"""Switches one reliability mechanism off in the service processes, to show that the fault
tests fail without it (nothing in the project imports this). Python loads it at start-up when
its folder is on PYTHONPATH; the tests pass their environment to the services:

    CRM_SWITCH_OFF=outbox      PYTHONPATH=tests/switch_off ./crm test tests/system/test_reliability_faults.py -k killed
    CRM_SWITCH_OFF=idempotency PYTHONPATH=tests/switch_off ./crm test tests/system/test_reliability_faults.py -k twice
    CRM_SWITCH_OFF=inbox       PYTHONPATH=tests/switch_off ./crm test tests/system/test_reliability_faults.py -k twice

outbox: the relay forgets, at start, what was stored but not published (as if events were
published from memory after the write). idempotency: no inbox and ledger records keyed by a
fresh id instead of the event id. inbox: only the inbox off (the keyed effects still hold).
"""

import os

what = os.environ.get("CRM_SWITCH_OFF", "")
if what == "inbox":
    from crm_servicekit import consumer

    class _NoInbox:
        async def record(self, *a, **k):
            return True  # never a duplicate: nothing is remembered

    _init = consumer.EventConsumer.__init__

    def __init__(self, *a, **k):
        _init(self, *a, **k)
        self.inbox = _NoInbox()

    consumer.EventConsumer.__init__ = __init__
elif what == "outbox":
    # "Publish after commit from memory": what was stored but not yet sent when the process
    # died is never sent (the relay forgets the pending records at start).
    from crm_servicekit import outbox

    _start = outbox.OutboxRelay.start

    def start(self):
        import asyncio

        async def forget_then_run():
            for source in self.sources:
                await source.collection.update_many({"published": False}, {"$set": {"published": True}})
            await self._run()

        self._task = asyncio.create_task(forget_then_run(), name="outbox-relay")

    outbox.OutboxRelay.start = start
if what == "idempotency":
    # No inbox, and the ledger's records keyed by a fresh id instead of one derived from the
    # event: a redelivered order or refund is booked again.
    from crm_servicekit import consumer

    class _NoInbox2:
        async def record(self, *a, **k):
            return True  # never a duplicate: nothing is remembered

    _init2 = consumer.EventConsumer.__init__

    def __init2__(self, *a, **k):
        _init2(self, *a, **k)
        self.inbox = _NoInbox2()

    consumer.EventConsumer.__init__ = __init2__
    try:
        import uuid as _uuid

        from crm_ledger.service import accounts as _a

        _orig = _a.derived_id

        def _fresh(prefix, *parts):
            if parts and parts[0] in ("order", "refund"):
                return f"{prefix}_{_uuid.uuid4().hex[:24]}"
            return _orig(prefix, *parts)

        _a.derived_id = _fresh  # order and refund record ids are both derived there
    except ImportError:
        pass
