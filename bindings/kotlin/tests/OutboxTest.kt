package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.OutboxEntryState
import dev.edgepoints.sdk.SdkEvent
import kotlinx.coroutines.runBlocking
import org.junit.After
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import kotlin.test.assertEquals
import kotlin.test.assertFalse
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

class OutboxTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(60)

    @After
    fun noFaultsLeft() = resetFaults()

    @Test
    fun completedEntriesAreListedAndEvented() = runBlocking {
        val listener = RecordingListener()
        val sdk = open(newDataDir(), listener)
        sdk.consent().grant("2026-11", ConsentPolicy())
        val status = sdk.outbox().status()
        assertEquals(0L, status.pending)
        assertEquals(2L, status.done)
        val entries = sdk.outbox().entries(10)
        assertEquals(listOf("device.consent", "device.register"), entries.map { it.kind })
        assertTrue(entries.all { it.state == OutboxEntryState.DONE && it.attempts == 1 })
        val completed = listener.events.filterIsInstance<SdkEvent.OutboxEntryCompleted>()
        assertEquals(entries.map { it.idempotencyKey }.toSet(), completed.map { it.idempotencyKey }.toSet())
        sdk.shutdown()
    }

    @Test
    fun pendingEntriesSurviveARestartAndDrain() = runBlocking {
        val dir = newDataDir()
        val offline = EdgePoints(config(dir, endpoints = listOf("http://127.0.0.1:1"), maxAttempts = 2), null)
        val state = offline.consent().grant("2026-11", ConsentPolicy())
        assertFalse(state.reported)
        val waiting = offline.outbox().status()
        assertEquals(2L, waiting.pending)
        assertNotNull(waiting.lastError)
        assertNotNull(waiting.oldestPendingAgeMs)
        offline.shutdown()

        val listener = RecordingListener()
        val online = open(dir, listener)
        val drained = online.outbox().drain(20_000L)
        assertEquals(0L, drained.pending)
        assertTrue(online.consent().state().reported)
        assertEquals(2, listener.events.filterIsInstance<SdkEvent.OutboxEntryCompleted>().size)
        online.shutdown()
    }

    @Test
    fun aFinalRefusalIsEventedAndCounted() = runBlocking {
        val listener = RecordingListener()
        val sdk = open(newDataDir(), listener)
        sdk.register()
        addFault("""{"route": "${Routes.DEVICE_CONSENT}", "action": "fail", "status": 422, "count": 1}""")
        val state = sdk.consent().grant("2026-11", ConsentPolicy())
        assertFalse(state.reported)
        assertEquals(1L, sdk.outbox().status().failed)
        val failed = listener.events.filterIsInstance<SdkEvent.OutboxEntryFailed>().single()
        assertEquals(422, failed.status)
        assertEquals("injected_fault", failed.code)
        sdk.shutdown()
    }
}
