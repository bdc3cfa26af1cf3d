package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.SdkEvent
import dev.edgepoints.sdk.SdkEvents
import kotlinx.coroutines.CoroutineStart
import kotlinx.coroutines.async
import kotlinx.coroutines.flow.first
import kotlinx.coroutines.flow.take
import kotlinx.coroutines.flow.toList
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import org.junit.Test
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertTrue

/** The API as an Android developer writes against it. */
class KotlinApiTest {
    @Test
    fun eventsArriveAsAFlowForEveryCollector() = runBlocking {
        val events = SdkEvents()
        EdgePoints(config(newDataDir()), events).use { sdk ->
            // Two collectors, subscribed before the calls that send events.
            val consent = async(start = CoroutineStart.UNDISPATCHED) {
                events.of<SdkEvent.ConsentChanged>().first()
            }
            val firstTwo = async(start = CoroutineStart.UNDISPATCHED) {
                events.flow.take(2).toList()
            }
            sdk.consent().grant("2026-11", ConsentPolicy())
            sdk.setBattery(55, false)
            withTimeout(10_000) {
                assertTrue(consent.await().state.status is dev.edgepoints.sdk.ConsentStatus.Granted)
                assertEquals(2, firstTwo.await().size)
            }
            sdk.shutdown()
        }
    }

    @Test
    fun numbersAreSignedAndANegativeOneIsARefusalThatNamesIt() = runBlocking {
        EdgePoints(config(newDataDir()), null).use { sdk ->
            val state = sdk.setBattery(80, true)
            assertEquals(80, state.batteryPercent)
            val negative = assertFailsWith<EdgePointsException.InvalidInput> { sdk.setBattery(-5, true) }
            assertEquals("invalid input: percent must not be negative (got -5)", negative.message)
            assertFailsWith<EdgePointsException.InvalidInput> { sdk.outbox().entries(-1) }
            assertFailsWith<EdgePointsException.InvalidInput> {
                sdk.consent().grant("2026-11", ConsentPolicy(monthlyUploadCapBytes = -1))
            }
            // Nothing changed.
            assertEquals(80, sdk.hostState().batteryPercent)
            assertTrue(sdk.consent().state().status is dev.edgepoints.sdk.ConsentStatus.NotAsked)
            sdk.shutdown()
        }
    }

    @Test
    fun aBadConfigurationIsRefusedBeforeAnythingOpens() {
        val dir = newDataDir()
        val refused = assertFailsWith<EdgePointsException.InvalidInput> {
            EdgePoints(config(dir).copy(requestTimeoutMs = -1), null)
        }
        assertEquals("invalid input: request_timeout_ms must not be negative (got -1)", refused.message)
        // The directory is free: the refused instance never opened it.
        EdgePoints(config(dir), null).use { it.consent().state() }
    }
}
