package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.EventListener
import dev.edgepoints.sdk.FetchSource
import dev.edgepoints.sdk.LogLevel
import dev.edgepoints.sdk.Logger
import dev.edgepoints.sdk.NetworkKind
import dev.edgepoints.sdk.SdkEvent
import dev.edgepoints.sdk.hostCallbackFailures
import dev.edgepoints.sdk.setLogger
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import java.util.concurrent.atomic.AtomicInteger
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertTrue

/** An app whose listener has a bug: it throws on every event. */
class ThrowingListener : EventListener {
    val calls = AtomicInteger()
    override fun onEvent(event: SdkEvent) {
        calls.incrementAndGet()
        throw IllegalStateException("listener bug on $event")
    }
}

/** An app whose logger has a bug: it throws on every line. */
class ThrowingLogger : Logger {
    val calls = AtomicInteger()
    override fun log(level: LogLevel, target: String, message: String) {
        calls.incrementAndGet()
        throw RuntimeException("logger bug")
    }
}

class HostCallbackTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(120)

    /** The other tests get a working logger back. */
    @After
    fun restoreLogger() = setLogger(RecordingLogger(), LogLevel.DEBUG)

    @Test
    fun aThrowingListenerChangesNoCallAndStopsNoBackgroundWork() = runBlocking {
        val logger = RecordingLogger()
        setLogger(logger, LogLevel.WARN)
        val failuresBefore = hostCallbackFailures().eventListener
        val listener = ThrowingListener()

        // Every flow, each call sending events the listener throws on.
        val alice = open(newDataDir(), listener)
        val granted = alice.consent().grant("2026-11", ConsentPolicy())
        assertTrue(granted.reported, "the outbox worker sent the consent: $granted")
        alice.setNetwork(NetworkKind.WIFI)
        alice.setBattery(90, true)
        val bytes = ByteArray(30_000) { ((it * 13) % 251).toByte() }
        val hash = publish(bytes)
        assertTrue(alice.node().sync().fetched >= 1L)
        val node = alice.node().start("127.0.0.1:0")
        val beat = node.heartbeatNow()
        assertTrue(alice.points().balance().balance >= beat.balance)
        val bob = open(newDataDir(), listener)
        assertIs<FetchSource.Node>(bob.fetch(hash).source)
        assertContentEquals(bytes, bob.content().read(hash))
        node.stop()

        // The outbox worker is still at work after all those throws: a new
        // decision is sent and answered.
        val revoked = alice.consent().revoke(false)
        assertTrue(revoked.reported, "the worker survived the listener: $revoked")
        assertEquals(0L, alice.outbox().drain(10_000L).pending)

        val failures = hostCallbackFailures().eventListener - failuresBefore
        assertTrue(listener.calls.get() > 10, "the listener was called: ${listener.calls.get()}")
        assertEquals(listener.calls.get().toLong(), failures, "every throw was counted")
        val reports = logger.lines.filter { it.contains("a host callback failed") }
        assertTrue(reports.size <= 1, "reported once, not per event: $reports")
        if (failuresBefore == 0L) {
            assertEquals(1, reports.size, "the first failure is reported: ${logger.lines}")
            assertTrue(reports[0].contains("event listener"), reports[0])
        }
        alice.shutdown()
        bob.shutdown()
    }

    @Test
    fun aThrowingLoggerChangesNoCall() = runBlocking {
        val logger = ThrowingLogger()
        setLogger(logger, LogLevel.DEBUG)
        val failuresBefore = hostCallbackFailures().logger
        val events = RecordingListener()

        val sdk = open(newDataDir(), events)
        sdk.register()
        val state = sdk.consent().grant("2026-11", ConsentPolicy())
        assertTrue(state.reported)
        sdk.setNetwork(NetworkKind.WIFI)
        sdk.setBattery(80, true)
        val node = sdk.node().start("127.0.0.1:0")
        node.heartbeatNow()
        node.stop()
        assertEquals(0L, sdk.outbox().drain(10_000L).pending)
        assertTrue(events.events.any { it is SdkEvent.Registered }, "events still flow")

        assertTrue(logger.calls.get() > 0, "the logger was called")
        assertEquals(logger.calls.get().toLong(), hostCallbackFailures().logger - failuresBefore)
        sdk.shutdown()
    }
}
