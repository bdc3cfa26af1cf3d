package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.LedgerReason
import dev.edgepoints.sdk.NetworkKind
import dev.edgepoints.sdk.SdkEvent
import kotlinx.coroutines.runBlocking
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import kotlin.test.assertEquals
import kotlin.test.assertTrue

/** Moves the mock control plane's clock forward. */
fun advanceClock(ms: Long) {
    val request = HttpRequest.newBuilder(URI.create("$controlPlane/admin/clock"))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"advance_ms\": $ms}"))
        .build()
    val response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString())
    check(response.statusCode() == 200) { "clock refused: ${response.body()}" }
}

class PointsTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(60)

    @Test
    fun heartbeatsEarnPointsThatTheAppCanReadAndHear() = runBlocking {
        val events = RecordingListener()
        val sdk = open(newDataDir(), events)
        sdk.consent().grant("2026-11", ConsentPolicy())
        sdk.setNetwork(NetworkKind.WIFI)
        sdk.setBattery(90, true)
        val node = sdk.node().start("127.0.0.1:0")
        assertEquals(0L, sdk.points().balance().balance)

        // Three minutes of heartbeats, 30 s apart on the mock's clock.
        node.heartbeatNow()
        var credited = 0L
        repeat(6) {
            advanceClock(30_000)
            credited += node.heartbeatNow().creditedPoints
        }
        assertEquals(3L, credited, "one point per full minute by default")

        val balance = sdk.points().balance()
        assertEquals(3L, balance.balance)
        assertEquals(sdk.deviceId(), balance.owner)
        assertTrue(balance.onlineMs >= 180_000L, "$balance")
        val ledger = sdk.points().ledger(0L)
        assertEquals(3L, ledger.entries.sumOf { it.points })
        assertTrue(ledger.entries.all { it.reason == LedgerReason.ONLINE_TIME }, "$ledger")
        assertEquals(null, ledger.nextAfter)

        val heard = events.events.filterIsInstance<SdkEvent.PointsCredited>()
        assertEquals(3L, heard.sumOf { it.points }, "every credit was an event")
        assertEquals(3L, heard.last().balance)
        assertTrue(heard.all { it.reason == LedgerReason.ONLINE_TIME })
        node.stop()
        sdk.shutdown()
    }

    @Test
    fun aConsumersReceiptEarnsTheNodePointsForDeliveredMegabytes() = runBlocking {
        // 2.1 MB: two full megabytes at the default one point each.
        val bytes = ByteArray(2_100_000) { ((it * 13) % 241).toByte() }
        val hash = publish(bytes)
        val events = RecordingListener()
        val alice = open(newDataDir(), events)
        alice.consent().grant("2026-11", ConsentPolicy())
        alice.setNetwork(NetworkKind.WIFI)
        alice.setBattery(90, true)
        alice.node().sync()
        val node = alice.node().start("127.0.0.1:0")

        val bob = open(newDataDir())
        val report = bob.fetch(hash)
        assertTrue(report.receiptQueued, "Bob signed a receipt for Alice's delivery: $report")
        assertEquals(0L, bob.outbox().drain(20_000L).pending)

        val beat = node.heartbeatNow()
        assertEquals(2L, beat.deliveryPoints, "$beat")
        val balance = alice.points().balance()
        assertEquals(2_100_000L, balance.deliveredBytes)
        val deliveries = alice.points().ledger(0L).entries.filter { it.reason == LedgerReason.DELIVERY }
        assertEquals(listOf(2L), deliveries.map { it.points })
        val heard = events.events.filterIsInstance<SdkEvent.PointsCredited>()
            .filter { it.reason == LedgerReason.DELIVERY }
        assertEquals(listOf(2L), heard.map { it.points }, "the app heard of the delivery credit")
        node.stop()
        alice.shutdown()
        bob.shutdown()
    }
}
