"""The reward use cases: points earned once per cause (an order event), coupons issued when
they reach the target (domain.rewards), coupons redeemed once."""

from crm_ledger.domain import Coupon, Program, RewardState, rewards
from crm_ledger.service.outbound import coupon_issued
from crm_ledger.store import RewardStore
from crm_servicekit.clock import now_ms
from crm_servicekit.errors import NotFound
from crm_servicekit.versioned import AlreadyApplied, retry_on_conflict


class Rewards:
    def __init__(self, store: RewardStore, program: Program, source: str) -> None:
        self.store = store
        self.program = program
        self.source = source

    async def of(self, customer_id: str) -> RewardState:
        return await self.store.get(customer_id)

    async def earn(self, customer_id: str, points: int, cause: str, order_id: str | None) -> None:
        """Once per cause (the order event): points, and a coupon each time they reach the target."""
        if points <= 0:
            return

        async def attempt() -> None:
            state = await self.store.get(customer_id)
            new, issued = rewards.earn(state, self.program, points, now_ms(), order_id)
            await self.store.claim_codes(customer_id, issued)
            try:
                await self.store.commit(new, [coupon_issued(self.source, c) for c in issued], cause=cause)
            except AlreadyApplied:
                pass

        await retry_on_conflict(attempt, tries=100)

    async def redeem(self, code: str, redemption: str | None) -> Coupon:
        """The redeemed coupon. Raises NotFound or CouponNotRedeemable (used, expired)."""
        owner = await self.store.owner_of(code)
        if owner is None:
            raise NotFound("Coupon", code)

        async def attempt() -> Coupon:
            now = now_ms()  # as stored (BSON keeps milliseconds): a replay shows the same time
            state = await self.store.get(owner)
            new, coupon = rewards.redeem(state, code, redemption, now)
            if new is not None:
                await self.store.commit(new, [])
            return coupon

        coupon: Coupon = await retry_on_conflict(attempt, tries=100)
        return coupon
