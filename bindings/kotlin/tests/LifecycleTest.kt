package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.NetworkKind
import dev.edgepoints.sdk.ServingGate
import kotlinx.coroutines.runBlocking
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import kotlin.test.assertEquals
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

/**
 * The app's lifecycle as Android reports it: foreground and background,
 * network changes, and the bounded background run a `CoroutineWorker`
 * makes (`doWork() = sdk.runPending(...)`).
 */
class LifecycleTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(60)

    @Test
    fun theNodeFollowsTheAppAndTheNetworkAsThePolicySays() = runBlocking {
        EdgePoints(config(newDataDir())).use { sdk ->
            sdk.consent().grant("2026-11", ConsentPolicy())
            sdk.setNetwork(NetworkKind.WIFI)
            sdk.setBattery(80, false)
            assertIs<ServingGate.Serving>(sdk.servingGate())
            // onStop: the default policy serves only while the app is on screen.
            sdk.setForeground(false)
            val paused = assertIs<ServingGate.Paused>(sdk.servingGate())
            assertEquals("the app is in the background", paused.reason)
            sdk.setForeground(true)
            assertIs<ServingGate.Serving>(sdk.servingGate())
            // ConnectivityManager says cellular: Wi-Fi only by default.
            sdk.setNetwork(NetworkKind.CELLULAR)
            assertIs<ServingGate.Paused>(sdk.servingGate())
            // A user who allows background serving (an Android foreground service).
            sdk.consent().grant("2026-11", ConsentPolicy(serveInBackground = true))
            sdk.setNetwork(NetworkKind.WIFI)
            sdk.setForeground(false)
            assertIs<ServingGate.Serving>(sdk.servingGate())
            sdk.shutdown()
        }
    }

    @Test
    fun aWorkerRunSendsWhatWaitedAndSyncsWithinItsTime() = runBlocking {
        EdgePoints(config(newDataDir(), endpoints = listOf(controlPlane))).use { sdk ->
            sdk.setNetwork(NetworkKind.WIFI)
            sdk.setBattery(80, true)
            sdk.consent().grant("2026-11", ConsentPolicy())
            val started = System.nanoTime()
            val run = sdk.runPending(20_000)
            assertTrue(run.finished, "$run")
            assertEquals(0L, run.outbox.pending)
            val synced = assertNotNull(run.sync, "the policy allows a sync now: $run")
            assertTrue(synced.fetched + synced.alreadyCached >= 1, "$synced")
            assertTrue(System.nanoTime() - started < 20_000_000_000L)
            // Offline: nothing to do but say why.
            sdk.setNetwork(NetworkKind.OFFLINE)
            val offline = sdk.runPending(2_000)
            assertEquals("not allowed now: offline", offline.syncSkipped)
            sdk.shutdown()
        }
    }
}
