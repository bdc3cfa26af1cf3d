package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.LedgerReason
import dev.edgepoints.sdk.NetworkKind
import dev.edgepoints.sdk.NodeHandle
import dev.edgepoints.sdk.PointsPrice
import dev.edgepoints.sdk.SdkEvent
import kotlinx.coroutines.runBlocking
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/** A member's serving node: what it earns is the member's. */
suspend fun memberNode(sdk: EdgePoints, name: String): NodeHandle {
    sdk.members().signUp(name, PASSWORD)
    sdk.members().login(name, PASSWORD)
    sdk.consent().grant("2026-12", ConsentPolicy())
    sdk.setNetwork(NetworkKind.WIFI)
    sdk.setBattery(90, true)
    val node = sdk.node().start("127.0.0.1:0")
    node.heartbeatNow()
    return node
}

/** `minutes` of heartbeats, 30 s apart on the mock's clock (a point a minute by default). */
suspend fun earn(node: NodeHandle, minutes: Int) {
    repeat(minutes * 2) {
        advanceClock(30_000)
        node.heartbeatNow()
    }
}

class LoyaltyTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(90)

    @Test
    fun aMemberSpendsEarnedPointsOnACouponAndTheMerchantReadsTheFunnel() = runBlocking {
        val till = open(newDataDir())
        till.merchant().enrol(createMerchant("Chez Points", "Canal Saint-Martin"))
        val priced = lunchDeal("Soup for points").copy(
            title = "Soup for four points",
            pointsPrice = PointsPrice(points = 4L, refundOnRollbackPercent = 100, refundOnExpiryPercent = 0),
        )
        val activityId = till.merchant().submit(till.merchant().writeActivity(null, priced).activityId).activityId

        val events = RecordingListener()
        val sdk = open(newDataDir(), events)
        val node = memberNode(sdk, "pia-${System.nanoTime()}@example.com")
        val share = sdk.coupons().share(activityId, "wechat")
        sdk.coupons().activity(activityId, share.referralCode)
        earn(node, 3)
        assertEquals(3L, sdk.points().balance().balance)

        // Not enough: typed, and nothing changes.
        val short = assertFailsWith<EdgePointsException.NotEnoughPoints> {
            sdk.coupons().claim(activityId, null)
        }
        assertEquals(3L, short.balance)
        assertEquals(4L, short.needed)
        assertEquals("not enough points: the balance is 3, 4 are needed", short.message)
        assertTrue(sdk.coupons().held().isEmpty())
        assertFailsWith<EdgePointsException.NotEnoughPoints> { sdk.points().redeemReward("harbour-coffee") }

        earn(node, 2)
        val coupon = sdk.coupons().claim(activityId, null)
        assertEquals(4L, coupon.pointsPaid)
        assertEquals(1L, sdk.points().balance().balance)
        val spent = events.events.filterIsInstance<SdkEvent.PointsSpent>()
        assertEquals(listOf(4L), spent.map { it.points })
        assertEquals(LedgerReason.COUPON_PURCHASE, spent.single().reason)
        val purchase = sdk.points().ledger(0L).entries.single { it.reason == LedgerReason.COUPON_PURCHASE }
        assertEquals(-4L, purchase.points)
        assertEquals(coupon.serial, purchase.couponSerial)

        // Given back: the points come back, once.
        assertEquals(4L, sdk.coupons().giveBack(coupon.serial))
        assertEquals(5L, sdk.points().balance().balance)
        val ledger = sdk.points().ledger(0L).entries
        assertEquals(1, ledger.count { it.reason == LedgerReason.COUPON_REFUND })
        assertEquals(sdk.points().balance().balance.toLong(), ledger.sumOf { it.points })
        assertTrue(events.events.any { it is SdkEvent.CouponGivenBack && it.refundedPoints == 4L })

        val funnel = till.merchant().funnel(activityId)
        assertEquals(1L, funnel.total.views)
        assertEquals(1L, funnel.total.shares)
        assertEquals(1L, funnel.total.claims)
        assertEquals(1L, funnel.total.claimsRolledBack)
        assertEquals(4L, funnel.total.pointsTaken)
        assertEquals(4L, funnel.total.pointsRefunded)
        assertEquals(listOf("direct", "wechat"), funnel.channels.map { it.channel })
        assertEquals(1L, funnel.channels.single { it.channel == "wechat" }.counts.views)
        // A customer's device is no merchant's.
        assertFailsWith<EdgePointsException.Rejected> { sdk.merchant().funnel(activityId) }
        node.stop()
    }
}
