package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.FetchSource
import dev.edgepoints.sdk.NetworkKind
import dev.edgepoints.sdk.SdkEvent
import dev.edgepoints.sdk.contentHashOf
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertTrue

/** Publishes `bytes` on the mock control plane's origin; returns the hash. */
fun publish(bytes: ByteArray): String {
    val request = HttpRequest.newBuilder(URI.create("$controlPlane/admin/content?priority=60"))
        .POST(HttpRequest.BodyPublishers.ofByteArray(bytes))
        .build()
    val response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString())
    check(response.statusCode() == 201) { "publish refused: ${response.body()}" }
    return contentHashOf(bytes)
}

class FetchTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(120)

    @Test
    fun fetchingFromAPeerThenFromTheOrigin() = runBlocking {
        val bytes = ByteArray(200_000) { ((it * 7) % 253).toByte() }
        val hash = publish(bytes)

        val aliceEvents = RecordingListener()
        val alice = open(newDataDir(), aliceEvents)
        alice.consent().grant("2026-11", ConsentPolicy())
        alice.setNetwork(NetworkKind.WIFI)
        alice.setBattery(90, true)
        val synced = alice.node().sync()
        assertTrue(synced.fetched >= 1L, "the published item is synced: $synced")
        val node = alice.node().start("127.0.0.1:0")

        val bob = open(newDataDir())
        val report = bob.fetch(hash)
        val source = assertIs<FetchSource.Node>(report.source, "routed to Alice: $report")
        assertEquals(alice.deviceId(), source.nodeId)
        assertEquals(bytes.size.toLong(), report.size)
        assertContentEquals(bytes, bob.content().read(hash))
        assertEquals(FetchSource.Cache, bob.fetch(hash).source)

        // Alice's node counted the upload, and told her app.
        val stats = node.stats()
        assertEquals(bytes.size.toLong(), stats.bytesServed)
        assertEquals(1L, stats.hits)
        assertEquals(bytes.size.toLong(), stats.uploadedThisMonthBytes)
        var heard: SdkEvent.NodeStats? = null
        repeat(50) {
            heard = aliceEvents.events.filterIsInstance<SdkEvent.NodeStats>()
                .lastOrNull { it.stats.bytesServed == bytes.size.toLong() }
            if (heard != null) return@repeat
            delay(100)
        }
        assertEquals(1L, heard?.stats?.hits, "a NodeStats event with the upload")

        // Alice stops serving: Carol gets the item from the origin.
        node.stop()
        val carol = open(newDataDir())
        val fromOrigin = carol.fetch(hash)
        assertIs<FetchSource.Origin>(fromOrigin.source, "$fromOrigin")
        assertContentEquals(bytes, carol.content().read(hash))

        assertFailsWith<EdgePointsException.Rejected> { carol.fetch(contentHashOf(byteArrayOf(9, 9, 9))) }
        assertFailsWith<EdgePointsException.InvalidInput> { carol.fetch("not-a-hash") }
        listOf(alice, bob, carol).forEach { it.shutdown() }
    }
}
