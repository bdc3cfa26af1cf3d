package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.NetworkKind
import dev.edgepoints.sdk.ServingGate
import dev.edgepoints.sdk.contentHashOf
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
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

class NodeTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(60)

    @Test
    fun contentIsVerifiedOnTheWayIn() = runBlocking {
        val sdk = open(newDataDir())
        val bytes = ByteArray(50_000) { (it % 251).toByte() }
        val hash = contentHashOf(bytes)
        sdk.content().ingest(hash, bytes)
        assertContentEquals(bytes, sdk.content().read(hash))
        val tampered = bytes.copyOf().also { it[123] = (it[123] + 1).toByte() }
        val other = contentHashOf(ByteArray(10))
        assertFailsWith<EdgePointsException.ContentRejected> { sdk.content().ingest(other, tampered) }
        assertEquals(1L, sdk.content().stats().items)
        sdk.shutdown()
    }

    @Test
    fun startingTheNodeAndReadingItsStats() = runBlocking {
        val sdk = open(newDataDir())
        assertEquals(ServingGate.NoConsent, sdk.servingGate())
        sdk.consent().grant("2026-11", ConsentPolicy())
        sdk.setNetwork(NetworkKind.WIFI)
        sdk.setBattery(90, true)
        assertEquals(ServingGate.Serving, sdk.servingGate())
        val node = sdk.node().start("127.0.0.1:0")
        val address = assertNotNull(node.localAddr(), "a running node has an address")
        assertTrue(address.startsWith("127.0.0.1:"))
        val hash = contentHashOf(byteArrayOf(1, 2, 3))
        val request = HttpRequest.newBuilder(URI.create("http://$address/content/$hash")).GET().build()
        val response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString())
        assertEquals(401, response.statusCode(), "no ticket, no content")
        val stats = node.stats()
        // The control plane's reachability probe is a request too.
        assertTrue(stats.requests >= 1L, "$stats")
        assertEquals(1L, stats.rejected["no_ticket"])
        assertEquals(listOf(address), node.reachableAddresses(), "the control plane reached the node")
        val presence = sdk.presence().status()
        assertEquals("http://$address", presence.servingUrl)
        assertEquals(listOf(address), presence.reachableAddresses)
        assertTrue(presence.seenFrom?.startsWith("127.0.0.1:") == true, "$presence")
        assertTrue(presence.heartbeats.lastAccepted != null, "start sent a heartbeat: $presence")
        assertEquals(0, presence.heartbeats.failuresSince)
        node.stop()
        assertEquals(null, node.localAddr())
        node.stop() // a second stop does nothing
        assertEquals(null, sdk.presence().status().servingUrl)
        sdk.shutdown()
    }
}

