"""Live membership: profile changes, re-evaluation of every segment for one customer, and the
batch computation of one segment over all profiles.

Safe with several processes (docs/scaling.md): correctness rests on unique keys of inserted
documents, never on the locks below.
- A profile change is recorded as version n+1 of the profile (store.commit_profile, a unique
  `_id`), decided from version n; a second writer of n+1 conflicts and decides again on the
  fresh profile, so no change is lost.
- A membership transition is change n+1 of the (segment, customer) pair, also a unique `_id`,
  so joins and leaves alternate whatever runs concurrently. It is decided from the recorded
  transitions (store.memberships_of), never from the `memberships` projection, which can be
  behind for a moment.
- A writer that recorded a transition from version v of a profile looks whether a newer version
  was recorded meanwhile, and if so settles again from the newest. The writer of that newer
  version re-checks every segment after recording it, so whichever of the two decides last
  decides from the newest profile, and the final membership follows it.
- A writer killed after recording a version and before re-checking: its event was not acked,
  comes again, changes nothing, and the re-check runs anyway (change_profile always re-checks).
The per-customer and per-segment asyncio locks only spare one process conflicts with itself.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, tzinfo

from crm_contracts.types import utcnow
from crm_segments.domain import analytics, profiles
from crm_segments.domain.documents import GONE, MembershipChange, MembershipState, Profile, Segment
from crm_segments.domain.membership import differences, transition_event
from crm_segments.domain.money import BaseMoney
from crm_segments.domain.rules import Compiled, Node, compile_rule, has_relative_dates, parse
from crm_segments.domain.rules.rfm import RfmBands
from crm_segments.domain.rules.syntax import uses_rfm
from crm_segments.store import MembershipTaken, SegmentStore
from crm_servicekit.versioned import retry_on_conflict

log = logging.getLogger(__name__)

ProfileChange = Callable[[Profile], Profile | None]
"""Returns the new profile, or None when the event changes nothing."""


class KeyedLocks:
    """An asyncio.Lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = defaultdict(int)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock = self._locks.setdefault(key, asyncio.Lock())
        self._users[key] += 1
        try:
            async with lock:
                yield
        finally:
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key]
                self._locks.pop(key, None)


class Membership:
    def __init__(self, store: SegmentStore, money: BaseMoney, source: str, tz: tzinfo = UTC) -> None:
        self.store = store
        self.money = money
        self.source = source
        self.tz = tz  # the store's time zone: what "today" is
        self.customers = KeyedLocks()
        self.segment_locks = KeyedLocks()
        self._parsed: dict[tuple[str, int], Node] = {}
        self.rfm: RfmBands | None = None  # scored on first need, refreshed by periodic()
        self.upgraded = False  # profiles of an older version brought up to date, once per process

    # rules ---------------------------------------------------------------------------------

    def rule_of(self, segment: Segment) -> Node:
        key = (segment["id"], segment["version"])
        node = self._parsed.get(key)
        if node is None:
            node = self._parsed[key] = parse(segment["rule"])
        return node

    def compiled(self, segment: Segment, now: datetime) -> Compiled:
        """The segment's filter and predicate now (an rfm_group rule: call scored() first)."""
        return self.compile(self.rule_of(segment), now)

    def compile(self, node: Node, now: datetime) -> Compiled:
        return compile_rule(node, now, self.money.scale, self.tz, self.rfm)

    async def scored(self, *rules: Node) -> None:
        """Makes sure the RFM bands exist if one of the rules names rfm_group."""
        if self.rfm is None and any(uses_rfm(r) for r in rules):
            await self.refresh_rfm()

    async def refresh_rfm(self) -> None:
        """Scores every active customer again (one pass over the profiles' RFM fields)."""
        r, f, m = analytics.Quintiles(), analytics.Quintiles(), analytics.Quintiles()
        async for p in self.store.figures(None, analytics.RFM_FIELDS):
            if analytics.is_buyer(p):
                r.add(p["last_order_date"])
                f.add(p["number_of_orders"])
                m.add(p["amount_spent"])
        self.rfm = RfmBands.of(r.counts, f.counts, m.counts)

    def is_time_dependent(self, segment: Segment) -> bool:
        return has_relative_dates(self.rule_of(segment))

    # live ----------------------------------------------------------------------------------

    async def change_profile(self, customer_id: str, change: ProfileChange) -> bool:
        """Applies one event to a profile, then re-checks every segment for that customer, also
        when the event changes nothing (a redelivery may be all that is left of a writer killed
        before its re-check). Returns whether this call recorded a new version of the profile."""

        tries = 0

        async def attempt() -> tuple[Profile | None, bool]:
            nonlocal tries
            tries += 1
            # The first attempt reads the projection alone (one read). A change decided on a
            # stale projection takes a version recorded already: VersionConflict, and the
            # retry probes. "Nothing to change" is checked against the version after it.
            newest, lagging = await self.store.profile_to_change(customer_id, probe=tries > 1)
            current = newest or profiles.empty(customer_id)
            new = change(current)
            if new is None and tries == 1 and (newer := await self.store.newer_profile(current)):
                newest, lagging, current = newer, True, newer
                new = change(current)
            if new is None:
                # Nothing to change, but the writer of this version may have stopped before
                # projecting it or re-checking the segments (killed, then this event came
                # again): finish its work in case it never does. The re-check is idempotent.
                if lagging and newest is not None:
                    await self.store.project_profile(newest)
                return newest, False
            new = {**new, "version": current.get("version", 0) + 1}
            await self.store.commit_profile(new)  # VersionConflict: retried on fresh state
            return new, True

        async with self.customers.hold(customer_id):  # fewer conflicts inside one process
            profile, recorded = await retry_on_conflict(attempt)
            if profile is None:
                return False
            await self._reevaluate(profile)
            if profile["deleted"]:
                await self.store.scrub_published(customer_id)
            return recorded

    async def _reevaluate(self, profile: Profile) -> None:
        now = utcnow()
        segments = await self.store.all_segments()
        await self.scored(*(self.rule_of(s) for s in segments))
        current = await self.store.memberships_of(profile["_id"])
        while True:
            changed = False
            for segment in segments:
                wanted = profile["active"] and self.compiled(segment, now).predicate(profile)
                changed |= await self._settle(
                    segment["id"], segment["name"], profile, wanted, current.get(segment["id"])
                )
            if not changed:
                return
            # Decided from `profile`: if a newer version was recorded meanwhile, its writer may
            # have decided before our transitions landed, so settle again from the newest.
            newer = await self.store.newer_profile(profile)
            if newer is None:
                return
            profile = newer
            current = await self.store.memberships_of(profile["_id"])

    async def _settle_newest(
        self,
        segment: Segment,
        predicate: Callable[[Profile], bool],
        profile: Profile,
        state: MembershipState | MembershipChange | None,
    ) -> int:
        """One pair from the batch: settled from `profile`, then again from any newer version
        recorded meanwhile (see the module's docstring). Returns the number of transitions."""
        changed = 0
        while True:
            wanted = bool(profile["active"] and predicate(profile))
            if not await self._settle(segment["id"], segment["name"], profile, wanted, state):
                return changed
            changed += 1
            newer = await self.store.newer_profile(profile)
            if newer is None:
                return changed
            profile = newer
            state = await self.store.latest_change(segment["id"], profile["_id"])

    async def _settle(
        self,
        segment_id: str,
        segment_name: str,
        profile: Profile,
        wanted: bool,
        state: MembershipState | MembershipChange | None,
    ) -> bool:
        """Makes the pair's membership `wanted`, publishing joined/left if it changes."""
        customer_id = profile["_id"]
        for _ in range(20):
            if bool(state and state["member"]) == wanted:
                return False
            n = (state["n"] if state else 0) + 1
            event = transition_event(self.source, segment_id, segment_name, profile, wanted, n)
            try:
                await self.store.record_transition(segment_id, customer_id, n, wanted, event)
                return True
            except MembershipTaken:
                # Our view of the pair was stale: take the recorded truth and decide again.
                latest = await self.store.latest_change(segment_id, customer_id)
                if latest is not None:
                    await self.store.project(latest)
                state = latest
        raise RuntimeError(f"membership of {customer_id} in {segment_id} keeps changing")

    async def project(self, change: MembershipChange) -> None:
        """The relay's hook: projects a published change (made by another process, or left
        unprojected by a crash). The projection only ever moves to a higher n; the lock just
        keeps it from interleaving with a transition this process is deciding."""
        async with self.customers.hold(change["customer_id"]):
            await self.store.project(change)

    # batch ---------------------------------------------------------------------------------

    async def recompute(self, segment_id: str) -> int:
        """Brings the segment's members in line with its rule over all profiles (or, for a
        deleted segment, lets every member leave). Returns the number of transitions."""
        async with self.segment_locks.hold(segment_id):
            segment = await self.store.segment(segment_id)
            if segment is None:
                return await self._leave_all(segment_id)
            version, now = segment["version"], utcnow()
            await self.scored(self.rule_of(segment))
            compiled = self.compiled(segment, now)
            candidates = await differences(
                self.store.matching_ids(compiled.filter), self.store.member_ids(segment_id)
            )
            changed = 0
            for customer_id in candidates:
                async with self.customers.hold(customer_id):
                    latest = await self.store.segment(segment_id)
                    if latest is None or latest["version"] != version:
                        return changed  # edited or deleted meanwhile: the next batch follows
                    profile = await self.store.profile(customer_id) or profiles.empty(customer_id)
                    state = await self.store.latest_change(segment_id, customer_id)
                    changed += await self._settle_newest(segment, compiled.predicate, profile, state)
            await self.store.mark_run(segment_id, version, segment["name"])
            return changed

    async def _leave_all(self, segment_id: str) -> int:
        """A deleted segment: every member leaves (the events carry its last name)."""
        run = await self.store.run_of(segment_id)
        name = run.get("name", "") if run else ""
        candidates = [customer_id async for customer_id in self.store.member_ids(segment_id)]
        for customer_id in candidates:
            async with self.customers.hold(customer_id):
                profile = await self.store.profile(customer_id) or profiles.empty(customer_id)
                state = await self.store.latest_change(segment_id, customer_id)
                await self._settle(segment_id, name, profile, False, state)
        await self.store.mark_run(segment_id, GONE, name)
        return len(candidates)

    async def periodic(self) -> None:
        """Re-evaluates what time alone changes (relative dates, RFM groups), and finishes any
        batch that a crash, an edit or a deletion left undone. The first run of a process also
        brings profiles stored by an older version up to date (profiles.upgrade)."""
        if not self.upgraded:
            for customer_id in await self.store.profiles_before_upgrade():
                await self.change_profile(customer_id, profiles.upgrade)
            self.upgraded = True
        runs = {r["_id"]: r.get("version") for r in await self.store.all_runs()}
        live = set()
        segments = await self.store.all_segments()
        if any(uses_rfm(self.rule_of(s)) for s in segments):
            await self.refresh_rfm()  # other customers' orders move everyone's scores
        for segment in segments:
            live.add(segment["id"])
            if self.is_time_dependent(segment) or runs.get(segment["id"]) != segment["version"]:
                await self.recompute(segment["id"])
        for segment_id, version in runs.items():
            # A deleted segment: finish its leaves, and catch a join that raced the deletion.
            if segment_id not in live and (version != GONE or await self.store.member_count(segment_id)):
                await self.recompute(segment_id)
