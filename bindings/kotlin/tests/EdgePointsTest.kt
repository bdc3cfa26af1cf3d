package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.HostState
import dev.edgepoints.sdk.LogLevel
import dev.edgepoints.sdk.NetworkKind
import dev.edgepoints.sdk.SdkEvent
import dev.edgepoints.sdk.setLogger
import kotlinx.coroutines.runBlocking
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

class EdgePointsTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(60)

    @Test
    fun registersOnceAndRemembers() = runBlocking {
        val sdk = open(newDataDir())
        assertNull(sdk.registration())
        val before = appliedRegistrations()
        val first = sdk.register()
        val second = sdk.register()
        assertEquals(sdk.deviceId(), first.deviceId)
        assertEquals(first, second)
        assertEquals(before + 1, appliedRegistrations())
        assertTrue(adminState().contains(sdk.deviceId()))
        sdk.shutdown()
    }

    @Test
    fun identitySurvivesRestart() = runBlocking {
        val dir = newDataDir()
        val first = open(dir)
        val id = first.deviceId()
        first.register()
        first.shutdown()
        val second = open(dir)
        assertEquals(id, second.deviceId())
        assertNotNull(second.registration())
        second.shutdown()
    }

    @Test
    fun secondInstanceOnSameDirectoryIsRefused() = runBlocking {
        val dir = newDataDir()
        val first = open(dir)
        assertFailsWith<EdgePointsException.DataDirectoryInUse> { open(dir) }
        first.shutdown()
        open(dir).shutdown()
    }

    @Test
    fun callsAfterShutdownFailTyped() = runBlocking {
        val sdk = open(newDataDir())
        sdk.shutdown()
        assertFailsWith<EdgePointsException.ShutDown> { sdk.register() }
        Unit
    }

    @Test
    fun badConfigIsInvalidInput() {
        val e = assertFailsWith<EdgePointsException.InvalidInput> {
            EdgePoints(config(newDataDir(), endpoints = listOf("not a url")), null)
        }
        assertTrue(e.reason.contains("not a url"))
        assertFailsWith<EdgePointsException.InvalidInput> {
            EdgePoints(config(newDataDir(), endpoints = emptyList()), null)
        }
    }

    @Test
    fun unreachableControlPlaneIsUnavailable() = runBlocking {
        val sdk = EdgePoints(config(newDataDir(), endpoints = listOf("http://127.0.0.1:1"), maxAttempts = 2), null)
        assertFailsWith<EdgePointsException.Unavailable> { sdk.register() }
        assertNull(sdk.registration())
        sdk.shutdown()
    }

    @Test
    fun hostStateIsStoredAndEvented() = runBlocking {
        val dir = newDataDir()
        val listener = RecordingListener()
        val sdk = open(dir, listener)
        sdk.setNetwork(NetworkKind.WIFI)
        val state = sdk.setBattery(80, true)
        assertEquals(HostState(NetworkKind.WIFI, 80, true, true), state)
        assertFailsWith<EdgePointsException.InvalidInput> { sdk.setBattery(101, false) }
        assertEquals(state, sdk.hostState())
        val changes = listener.events.filterIsInstance<SdkEvent.HostStateChanged>()
        assertEquals(2, changes.size)
        sdk.shutdown()
        val reopened = open(dir)
        assertEquals(state, reopened.hostState())
        reopened.shutdown()
    }

    @Test
    fun loggerAndListenerReceiveCalls() = runBlocking {
        val logger = RecordingLogger()
        setLogger(logger, LogLevel.DEBUG)
        val listener = RecordingListener()
        val sdk = open(newDataDir(), listener)
        sdk.register()
        assertTrue(listener.events.any { it is SdkEvent.Registered && it.deviceId == sdk.deviceId() })
        assertTrue(
            logger.lines.any { it.contains("edgepoints") && it.contains("device registered") },
            "log lines: ${logger.lines.take(10)}",
        )
        sdk.shutdown()
    }
}
