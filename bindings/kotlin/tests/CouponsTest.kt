package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.ActivityDraft
import dev.edgepoints.sdk.ActivityState
import dev.edgepoints.sdk.CouponRefusal
import dev.edgepoints.sdk.CouponValidation
import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.SdkEvent
import dev.edgepoints.sdk.TemplateKind
import kotlinx.coroutines.runBlocking
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertTrue

/** QA makes a merchant on the mock; its first enrolment code. */
fun createMerchant(name: String, shop: String): String {
    val request = HttpRequest.newBuilder(URI.create("$controlPlane/admin/merchants"))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"name\": \"$name\", \"shops\": [\"$shop\"]}"))
        .build()
    val body = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString()).body()
    return Regex("\"enrolment_code\":\"([A-Z0-9]+)\"").find(body)?.groupValues?.get(1)
        ?: error("no enrolment code in $body")
}

fun lunchDeal(description: String): ActivityDraft {
    val now = System.currentTimeMillis() / 1000
    return ActivityDraft(
        template = TemplateKind.PERCENT_OFF,
        title = "15% off lunch",
        description = description,
        shop = "Canal Saint-Martin",
        staff = listOf(),
        featuredItems = listOf("soupe"),
        pictures = listOf(),
        percentOff = 15,
        amountOffCents = null,
        gift = null,
        minSpendCents = 0L,
        validFromS = (now - 60).toLong(),
        validUntilS = (now + 86_400).toLong(),
        totalLimit = 10,
        perCustomerLimit = 1,
        pointsPrice = null,
    )
}

/** Another one-time enrolment code of a merchant. */
fun enrolmentCode(merchantId: String): String {
    val request = HttpRequest.newBuilder(URI.create("$controlPlane/admin/merchants/$merchantId/enrolment-codes"))
        .POST(HttpRequest.BodyPublishers.noBody())
        .build()
    val body = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString()).body()
    return Regex("\"enrolment_code\":\"([A-Z0-9]+)\"").find(body)?.groupValues?.get(1)
        ?: error("no enrolment code in $body")
}

class CouponsTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(60)

    @Test
    fun aCustomerClaimsAndPresentsAndTheTillValidatesOffline() = runBlocking {
        val tillDir = newDataDir()
        val till = open(tillDir)
        till.merchant().enrol(createMerchant("Chez Kotlin", "Canal Saint-Martin"))
        val rejected = till.merchant().submit(
            till.merchant().writeActivity(null, lunchDeal("call 13800138000")).activityId,
        )
        assertEquals(ActivityState.REJECTED, rejected.state)
        assertEquals(listOf("contact"), rejected.findings.map { it.category })
        till.merchant().writeActivity(rejected.activityId, lunchDeal("Soup and bread"))
        val live = till.merchant().submit(rejected.activityId)
        assertEquals(ActivityState.LIVE, live.state)

        val events = RecordingListener()
        val customer = open(newDataDir(), events)
        assertTrue(customer.coupons().liveActivities(null).any { it.activityId == live.activityId })
        val coupon = customer.coupons().claim(live.activityId, null)
        assertEquals(listOf(coupon), customer.coupons().held())
        assertTrue(events.events.any { it is SdkEvent.CouponClaimed && it.coupon.serial == coupon.serial })
        val refused = assertFailsWith<EdgePointsException.Rejected> { customer.coupons().claim(live.activityId, null) }
        assertEquals("per_customer_limit_reached", refused.code)
        val shown = customer.coupons().present(coupon.serial)
        assertEquals((shown.qrWidth * shown.qrWidth).toInt(), shown.qrModules.size)

        // The till, reopened with no reachable control plane, still checks.
        till.shutdown()
        val offline = EdgePoints(config(tillDir, endpoints = listOf("http://127.0.0.1:1"), maxAttempts = 1), null)
        val valid = offline.merchant().validate(shown.text)
        assertIs<CouponValidation.Valid>(valid)
        assertEquals(coupon.serial, valid.serial)
        val other = open(newDataDir())
        other.merchant().enrol(createMerchant("Another shop", "Elsewhere"))
        assertEquals(
            CouponValidation.Refused(CouponRefusal.WRONG_MERCHANT),
            other.merchant().validate(shown.text),
        )
        assertEquals(CouponValidation.Refused(CouponRefusal.MALFORMED), offline.merchant().validate("EPP1:XYZ"))
        offline.shutdown()

        // Back online: redeemed once, a second refused, rolled back, redeemed again.
        val online = open(tillDir)
        val redemption = online.merchant().redeem(shown.text, "order-1")
        assertEquals(coupon.serial, redemption.serial)
        assertEquals(
            CouponValidation.Refused(CouponRefusal.ALREADY_REDEEMED),
            online.merchant().validate(shown.text),
        )
        val again = assertFailsWith<EdgePointsException.Rejected> { online.merchant().redeem(shown.text, "order-2") }
        assertEquals("already_redeemed", again.code)
        online.merchant().rollback(live.activityId, redemption.redemptionId)
        assertIs<CouponValidation.Valid>(online.merchant().validate(shown.text))
        online.merchant().redeem(shown.text, "order-3")
        online.shutdown()
        other.shutdown()
        customer.shutdown()
    }

    @Test
    fun anOfflineDoubleRedemptionReachesBothTillsAsAnEvent() = runBlocking {
        val eventsA = RecordingListener()
        val tillA = open(newDataDir(), eventsA)
        val merchant = tillA.merchant().enrol(createMerchant("Deux Caisses", "Canal Saint-Martin"))
        val activity = tillA.merchant().writeActivity(null, lunchDeal("Soup and bread"))
        tillA.merchant().submit(activity.activityId)
        val eventsB = RecordingListener()
        val tillB = open(newDataDir(), eventsB)
        tillB.merchant().enrol(enrolmentCode(merchant.merchantId))
        val customer = open(newDataDir())
        val coupon = customer.coupons().claim(activity.activityId, null)
        val shown = customer.coupons().present(coupon.serial).text

        addFault("{\"route\": \"${Routes.DEVICE_OFFLINE_REDEMPTIONS}\", \"action\": \"fail\", \"status\": 503}")
        try {
            tillA.merchant().redeemOffline(shown, "A-1", 250L)
            tillB.merchant().redeemOffline(shown, "B-1", 250L)
            val again = assertFailsWith<EdgePointsException.CouponRefused> { tillA.merchant().redeemOffline(shown, "A-2", 250L) }
            assertEquals(CouponRefusal.ALREADY_REDEEMED, again.reason)
        } finally {
            resetFaults()
        }
        assertEquals(0L, tillA.outbox().drain(10_000L).pending)
        assertEquals(0L, tillB.outbox().drain(10_000L).pending)
        tillA.merchant().sync()
        tillB.merchant().sync()
        val heardA = eventsA.events.filterIsInstance<SdkEvent.RedemptionConflict>()
        val heardB = eventsB.events.filterIsInstance<SdkEvent.RedemptionConflict>()
        assertEquals(1, heardA.size, "till A heard it once")
        assertEquals(heardA, heardB, "both tills, the same report")
        assertEquals(
            setOf("A-1", "B-1"),
            setOf(heardA[0].conflict.first.orderRef, heardA[0].conflict.second.orderRef),
            "both records",
        )
        tillA.shutdown()
        tillB.shutdown()
        customer.shutdown()
    }
}
