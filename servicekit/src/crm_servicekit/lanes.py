"""Live events before bulk ones inside one process.

The bulk lane (`<service>.bulk`) is consumed beside the live queue, so a live event never waits
for the import's backlog in the broker. Inside the process it still shares the database with
the bulk handlers in flight: with 32 of them each of its round trips queues behind theirs. So
while any live event is in hand, a bulk event waits before it starts (at most
`longest_wait` seconds, so that steady live traffic slows an import but never stops it). Moves
out of the live queue count as live work: while an import's backlog is being moved into the
bulk lane, the processor goes to the move (a live event behind the backlog waits for it), not
to handling bulk events. Only the order of work changes: correctness stays on keyed effects and
versions.

What a bulk event causes is bulk too (`bulk_work`): the events its handler stores go out
marked `crmlane: "bulk"` (crm_servicekit.outbox.pending), so that the next service takes them in
its bulk lane, and its outbox relay publishes live records before a backlog of bulk ones.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from contextvars import ContextVar

bulk_work: ContextVar[bool] = ContextVar("bulk_work", default=False)
"""True while a bulk event is handled (set by the consumer)."""


class LiveFirst:
    def __init__(self, longest_wait: float = 1.0) -> None:
        self.longest_wait = longest_wait
        self._live = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @asynccontextmanager
    async def live(self) -> AsyncIterator[None]:
        self._live += 1
        self._idle.clear()
        try:
            yield
        finally:
            self._live -= 1
            if not self._live:
                self._idle.set()

    async def before_bulk(self) -> None:
        if not self._idle.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), self.longest_wait)
