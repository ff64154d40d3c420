"""The reward use cases: points earned once per cause (an order event), coupons issued when
they reach the target (domain.rewards), points taken back once per refund or cancellation,
coupons redeemed once, by their owner."""

import logging
from datetime import datetime
from typing import Any, Literal

from crm_ledger.domain import (
    Coupon,
    CouponTerms,
    MergedRewards,
    OrderPoints,
    PendingReversal,
    PointsLot,
    Program,
    Referral,
    RewardState,
    rewards,
)
from crm_ledger.service.outbound import coupon_issued, points_reversed, referral_converted
from crm_ledger.service.programmes import Programmes
from crm_ledger.store import RewardStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import Busy, NotFound
from crm_servicekit.versioned import AlreadyApplied, VersionConflict, retry_on_conflict

log = logging.getLogger(__name__)


class Rewards:
    def __init__(
        self, store: RewardStore, programmes: Programmes, source: str, *, take_back_points: bool = True
    ) -> None:
        self.take_back_points = take_back_points  # CRM_LEDGER_TAKE_BACK_POINTS
        self.store = store
        self.programmes = programmes
        self.source = source

    async def of(self, customer_id: str) -> RewardState:
        return await self.store.get(customer_id)

    async def earn(
        self,
        customer_id: str,
        points: int,
        cause: str,
        order_id: str | None,
        program: Program,
        total: int = 0,
        currency: str | None = None,
        state: RewardState | None = None,
    ) -> RewardState | None:
        """Once per cause (the order event): points, and the coupons of the thresholds of
        `program` they reach. What the order earned is recorded after the points are committed,
        for a refund or a cancellation later: that record is what tells take_back the balance
        holds these points (recorded first, a reversal running between the two, after a crash or
        a retry of this event, took them from a balance without them and lost the rest).

        `state`: the customer's reward state as the caller last saw it committed (or an empty
        one for a customer new to the ledger), decided on without reading; otherwise the first
        attempt decides on the projection alone. Either may be stale: earning always commits
        the next version, whose unique (customer, version) then refuses it, and the next attempt
        reads the newest state. Returns the state committed here (None: the cause had been
        applied before, or no points)."""
        if points <= 0:
            return None
        first = [state]

        async def attempt() -> RewardState | None:
            current = await self._state_to_change(customer_id, first)
            new, issued = rewards.earn(current, program, points, now_ms(), order_id, lot_id=cause)
            await self.store.claim_codes(customer_id, issued)
            try:
                await self.store.commit(new, [coupon_issued(self.source, c) for c in issued], cause=cause)
            except AlreadyApplied:
                return None
            return new

        committed: RewardState | None = await retry_on_conflict(attempt, tries=100)
        if order_id is None:
            return committed
        earned: OrderPoints = {
            "_id": f"{customer_id}:{order_id}",
            "customer_id": customer_id,
            "order_id": order_id,
            "points": points,
            "total": total,
            "currency": currency,
            "at": now_ms(),
        }
        await self.store.record_order_points(earned)  # also when applied before (a redelivery)
        if self.take_back_points:
            # A refund or cancellation that came first (events arrive in any order) applies now.
            # Its own take_back wrote the parked record before looking for these points, so one
            # of the two sees the other; applying twice is refused by the cause. (Switched off,
            # take_back parks nothing and applies nothing: no need to look.)
            for parked in await self.store.parked_reversals(customer_id, order_id):
                committed = None  # changed again below
                await self.take_back(
                    customer_id,
                    order_id,
                    parked["cause"],
                    parked["refunded"],
                    parked["currency"],
                    parked["refund_id"],
                )
        return committed

    async def _state_to_change(self, customer_id: str, first: list[RewardState | None]) -> RewardState:
        """The state an attempt that always commits decides on: on the first attempt the
        caller's (`first`) or the projection (one read instead of two: a stale one is refused
        by the unique version), on later ones the newest (projection and the versions after it)."""
        if first:
            given = first.pop()
            return given if given is not None else await self.store.projected(customer_id)
        return await self.store.get(customer_id)

    async def take_back(
        self,
        customer_id: str,
        order_id: str,
        cause: str,
        refunded: int | None,
        currency: str | None = None,
        refund_id: str | None = None,
    ) -> None:
        """Once per cause (a refund's key, or the order's cancellation): the order's points in
        proportion to `refunded`, or all of them (`refunded` None). Nothing when the order
        earned none. When the order's points are not known here yet, the reversal is parked and
        applied once they are (earn)."""
        if not self.take_back_points:
            return
        earned = await self.store.order_points_of(customer_id, order_id)
        if earned is None:
            parked: PendingReversal = {
                "_id": f"{customer_id}:{order_id}:{cause}",
                "order_key": f"{customer_id}:{order_id}",
                "customer_id": customer_id,
                "order_id": order_id,
                "cause": cause,
                "refunded": refunded,
                "currency": currency,
                "refund_id": refund_id,
            }
            await self.store.park_reversal(parked)
            earned = await self.store.order_points_of(customer_id, order_id)  # recorded meanwhile?
            if earned is None:
                return

        first: list[RewardState | None] = [None]

        async def attempt() -> None:
            now = now_ms()
            state = await self._state_to_change(customer_id, first)  # reverse always commits
            new, reversal = rewards.reverse(state, earned, refunded, currency, now)
            events = (
                []
                if reversal is None
                else [points_reversed(self.source, customer_id, cause, reversal, refund_id, now)]
            )
            try:
                await self.store.commit(new, events, cause=cause)
            except AlreadyApplied:
                # A redelivery: the first handling may have stopped before the KPIs' fact, so
                # it is recorded from what that handling committed.
                points, at = await self.store.reversal_applied(customer_id, cause)
                if points is not None:
                    await self._record_reversal(customer_id, order_id, cause, points, at)
                return
            if reversal is not None:  # the KPIs' fact, once
                await self._record_reversal(customer_id, order_id, cause, reversal.points, now)

        await retry_on_conflict(attempt, tries=100)

    async def _record_reversal(
        self, customer_id: str, order_id: str, cause: str, points: int, at: datetime
    ) -> None:
        await self.store.record_reversal(
            {
                "_id": f"{customer_id}:{cause}",
                "customer_id": customer_id,
                "order_id": order_id,
                "points": points,
                "at": at,
            }
        )

    async def park_for_email(
        self,
        key: str,
        order_id: str,
        cause: str,
        refunded: int | None,
        currency: str | None,
        refund_id: str | None,
    ) -> None:
        """A refund or cancellation of a customer not known yet (its order's points are parked
        under the e-mail too): kept under the e-mail until the customer is (adopt_parked)."""
        if self.take_back_points:
            await self.store.park_reversal(
                {
                    "_id": f"email:{key}:{order_id}:{cause}",
                    "order_key": f"email:{key}:{order_id}",
                    "customer_id": "",
                    "order_id": order_id,
                    "cause": cause,
                    "refunded": refunded,
                    "currency": currency,
                    "refund_id": refund_id,
                    "email_key": key,
                }
            )

    async def adopt_parked(self, customer_id: str, key: str) -> None:
        """The customer of e-mail `key` is now known: its reversals parked under the e-mail are
        parked under its id, where earning the order's points finds them. Called after the
        e-mail's customer is recorded, before its parked points are granted; a refund parking
        under the e-mail meanwhile looks for the customer again after parking (record_refund),
        so one of the two sees the other, and applying twice is refused by the cause."""
        if not self.take_back_points:
            return
        for r in await self.store.reversals_parked_for_email(key):
            await self.store.park_reversal(
                {
                    "_id": f"{customer_id}:{r['order_id']}:{r['cause']}",
                    "order_key": f"{customer_id}:{r['order_id']}",
                    "customer_id": customer_id,
                    "order_id": r["order_id"],
                    "cause": r["cause"],
                    "refunded": r["refunded"],
                    "currency": r["currency"],
                    "refund_id": r["refund_id"],
                }
            )

    async def expire_due(self, now: datetime | None = None) -> int:
        """The points-expiry job: every customer whose soonest expiring points are due loses
        what is left of them, with a movement saying why. Exactly once however many replicas
        run it: the expiry commits the next version of the reward state (a unique key), decided
        on the newest one, so a second replica finds the points gone. Returns points expired."""
        now = now or now_ms()
        done = 0
        for customer_id in await self.store.points_due(now):
            try:
                done += await self.expire_points(customer_id, now)
            except Exception:  # noqa: BLE001 - one customer must not hold up the others
                log.exception("points expiry of %s failed; the next pass retries", customer_id)
        return done

    async def expire_points(self, customer_id: str, now: datetime) -> int:
        async def attempt() -> list[PointsLot]:
            state = await self.store.get(customer_id)
            new, due = rewards.expire(state, now)
            if new is None:
                return []
            await self.store.commit(new, [])
            return due

        due: list[PointsLot] = await retry_on_conflict(attempt, tries=100)
        for lot in due:  # the KPIs' facts, once each
            await self.store.record_expiry(
                {
                    "_id": f"{customer_id}:{lot['id']}",
                    "customer_id": customer_id,
                    "points": lot["points"],
                    "at": now,
                }
            )
        return sum(x["points"] for x in due)

    async def grant_birthday(self, customer_id: str, terms: CouponTerms, now: datetime) -> bool:
        """The birthday coupon of this year, once: True when this call issued it. Two replicas
        deciding at once both try to commit the next version of the customer's reward state
        (a unique key): the loser decides again and finds the coupon there."""
        year = now.year
        if await self.store.birthday_done(customer_id, year):
            return False

        async def attempt() -> bool:
            state = await self.store.get(customer_id)
            new, coupon = rewards.grant_birthday(state, terms, year, now)
            if new is None:
                return False
            await self.store.claim_codes(customer_id, [coupon])
            try:
                await self.store.commit(
                    new, [coupon_issued(self.source, coupon)], cause=f"birthday:{customer_id}:{year}"
                )
            except AlreadyApplied:
                return False
            return True

        done: bool = await retry_on_conflict(attempt, tries=100)
        code = rewards.birthday_code(customer_id, year)
        await self.store.record_birthday(
            {
                "_id": f"{customer_id}:{year}",
                "customer_id": customer_id,
                "year": year,
                "code": code,
                "at": now,
            }
        )
        return done

    # -- referrals ---------------------------------------------------------------------------
    async def referral_code_of(self, customer_id: str) -> str:
        """The customer's code, registered so that an order naming it finds them."""
        code = rewards.referral_code(customer_id)
        await self.store.share_code(customer_id, code)
        return code

    async def note_referred_by(self, customer_id: str, code: str) -> RewardState:
        """The code a customer arrived with (customer events' `referred_by`), kept in their
        reward state, which every earning order reads anyway: the first one converts it. Once:
        a later code does not replace it. Returns the newest state."""

        async def attempt() -> RewardState:
            state = await self.store.get(customer_id)
            if state.get("referred_by"):
                return state
            new: RewardState = {**state, "version": state["version"] + 1, "referred_by": code}
            try:
                await self.store.commit(new, [], cause=f"referred-by:{customer_id}")
            except AlreadyApplied:
                return await self.store.get(customer_id)
            return new

        noted: RewardState = await retry_on_conflict(attempt, tries=100)
        return noted

    async def settle_referral(self, customer_id: str) -> None:
        """The customer's first order was looked at for their `referred_by`: later orders need not."""

        async def attempt() -> None:
            state = await self.store.get(customer_id)
            if state.get("referral_settled"):
                return
            new: RewardState = {**state, "version": state["version"] + 1, "referral_settled": True}
            try:
                await self.store.commit(new, [], cause=f"referral-settled:{customer_id}")
            except AlreadyApplied:
                pass

        await retry_on_conflict(attempt, tries=100)

    async def conversions(self, customer_id: str) -> int:
        return await self.store.conversions_of(customer_id)

    async def convert_referral(
        self, referrer_id: str, referee_id: str, code: str, order_id: str, program: Program | None
    ) -> bool:
        """The referee's first order: its conversion, once ever per referee (a unique key), and
        each side's coupon of the programme. A redelivered order completes what a crash left
        undone; another order of the same referee changes nothing. True: this order converted."""
        now = now_ms()
        referral = await self.store.record_referral(
            {"_id": referee_id, "referrer_id": referrer_id, "code": code, "order_id": order_id, "at": now}
        )
        if referral["order_id"] != order_id:
            return False  # converted by another order before
        converted = referral_converted(self.source, referral)
        referrer_terms = program.referrer_coupon if program else None
        referee_terms = program.referee_coupon if program else None
        await self._grant_referral(referee_id, referee_terms, "referee", referral, [converted])
        await self._grant_referral(referrer_id, referrer_terms, "referrer", referral, [])
        return True

    async def _grant_referral(
        self,
        customer_id: str,
        terms: CouponTerms | None,
        role: Literal["referrer", "referee"],
        referral: Referral,
        events: list[dict[str, Any]],
    ) -> None:
        async def attempt() -> None:
            state = await self.store.get(customer_id)
            new, coupon = rewards.grant_referral(
                state, terms, role, referral["_id"], referral["order_id"], now_ms()
            )
            if new is None:
                return
            if coupon:
                await self.store.claim_codes(customer_id, [coupon])
            out = [*events, *([coupon_issued(self.source, coupon)] if coupon else [])]
            try:
                await self.store.commit(new, out, cause=f"referral:{role}:{referral['_id']}")
            except AlreadyApplied:
                pass

        await retry_on_conflict(attempt, tries=100)

    async def merge(self, merged_id: str, kept_id: str) -> MergedRewards:
        """customer.merged: the merged customer's points and unredeemed coupons become the kept
        customer's, once per merged customer (a record is merged once; a second customer.merged
        of it, even under another event id, moves nothing again). First the merged state hands
        them over (its next version, cause "merge-out:<merged>", recording what moved), then the
        kept state takes exactly that (cause "merge-in:<merged>"): a redelivery, a crash in
        between or a second replica finds the hand-over recorded and the kept side applied at
        most once (the unique cause and (customer, version)). The coupon codes then name the kept customer as their owner."""

        async def hand_over() -> MergedRewards:
            state = await self.store.get(merged_id)
            new, moved = rewards.merge_out(state, kept_id)
            if new is None:
                return moved
            try:
                await self.store.commit(new, [], cause=f"merge-out:{merged_id}")
            except AlreadyApplied:
                return rewards.merge_out(await self.store.get(merged_id), kept_id)[1]
            return moved

        moved: MergedRewards = await retry_on_conflict(hand_over, tries=100)
        if moved["into"] != kept_id:
            log.warning("%s was merged into %s before, not into %s", merged_id, moved["into"], kept_id)
            return moved
        if moved["points"] == 0 and not moved["coupons"]:
            return moved

        async def take_over() -> None:
            state = await self.store.get(kept_id)
            try:
                await self.store.commit(rewards.merge_in(state, moved), [], cause=f"merge-in:{merged_id}")
            except AlreadyApplied:
                pass

        await retry_on_conflict(take_over, tries=100)
        await self.store.move_codes([c["code"] for c in moved["coupons"]], kept_id)
        return moved

    async def redeem(self, code: str, customer_id: str, redemption: str | None) -> Coupon:
        """The redeemed coupon. Raises NotFound (no such coupon, or another customer's),
        CouponNotRedeemable (used, expired) or Busy (lost every race). Two concurrent redemptions
        cannot both succeed: each commits the next version of the owner's reward state, a unique key."""
        owner = await self.store.owner_of(code)
        if owner is None or owner != customer_id:
            raise NotFound("Coupon", code)

        async def attempt() -> Coupon:
            now = now_ms()  # as stored (BSON keeps milliseconds): a replay shows the same time
            state = await self.store.get(owner)
            new, coupon = rewards.redeem(state, code, customer_id, redemption, now)
            if new is not None:
                await self.store.commit(new, [])
            return coupon

        try:
            coupon: Coupon = await retry_on_conflict(attempt, tries=100)
        except VersionConflict:  # every attempt lost the race: a 503 with Retry-After, not a 500
            raise Busy(f"too many concurrent changes of the coupons of {owner}; retry shortly") from None
        return coupon
