package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.ConsentStatus
import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.SdkEvent
import kotlinx.coroutines.runBlocking
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertFalse
import kotlin.test.assertTrue

class ConsentTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(60)

    private val policy = ConsentPolicy(
        serveOnWifi = true,
        serveOnCellular = false,
        chargingOnly = true,
        minBatteryPercent = 40,
        monthlyUploadCapBytes = 2_000_000_000L,
    )

    @Test
    fun grantWithPolicyIsReported() = runBlocking {
        val listener = RecordingListener()
        val sdk = open(newDataDir(), listener)
        val state = sdk.consent().grant("2026-11", policy)
        assertEquals(ConsentStatus.Granted("2026-11", policy), state.status)
        assertEquals(1L, state.revision)
        assertTrue(state.reported)
        assertTrue(listener.events.any { it is SdkEvent.ConsentChanged })
        assertTrue(listener.events.any { it is SdkEvent.ConsentReported && it.revision == 1L })
        val admin = adminState()
        assertTrue(admin.contains(sdk.deviceId()))
        assertTrue(admin.contains("\"min_battery_percent\":40"), admin)
        sdk.shutdown()
    }

    @Test
    fun consentSurvivesRestart() = runBlocking {
        val dir = newDataDir()
        val first = open(dir)
        val id = first.deviceId()
        val granted = first.consent().grant("2026-11", policy)
        first.shutdown()
        val second = open(dir)
        assertEquals(id, second.deviceId())
        assertEquals(granted, second.consent().state())
        second.shutdown()
    }

    @Test
    fun revokeIsRecorded() = runBlocking {
        val sdk = open(newDataDir())
        sdk.consent().grant("2026-11", policy)
        val revoked = sdk.consent().revoke(true)
        assertEquals(ConsentStatus.Revoked(true), revoked.status)
        assertEquals(2L, revoked.revision)
        assertTrue(revoked.reported)
        assertTrue(adminState().contains("\"decision\":\"revoked\""))
        sdk.shutdown()
    }

    @Test
    fun badPolicyIsTypedErrorAndChangesNothing() = runBlocking {
        val sdk = open(newDataDir())
        val before = sdk.consent().state()
        assertEquals(ConsentStatus.NotAsked, before.status)
        val e = assertFailsWith<EdgePointsException.InvalidInput> {
            sdk.consent().grant("2026-11", policy.copy(minBatteryPercent = 150))
        }
        assertTrue(e.reason.contains("battery"), e.reason)
        assertFailsWith<EdgePointsException.InvalidInput> {
            sdk.consent().grant("", policy)
        }
        assertFailsWith<EdgePointsException.InvalidInput> {
            sdk.consent().grant("2026-11", policy.copy(serveOnWifi = false, serveOnCellular = false))
        }
        assertEquals(before, sdk.consent().state())
        assertFalse(adminState().contains(sdk.deviceId()))
        sdk.shutdown()
    }

    @Test
    fun grantWhileOfflineStaysPendingThenReports() = runBlocking {
        val dir = newDataDir()
        val listener = RecordingListener()
        val offline = EdgePoints(config(dir, endpoints = listOf("http://127.0.0.1:1"), maxAttempts = 2), listener)
        val state = offline.consent().grant("2026-11", policy)
        assertTrue(state.status is ConsentStatus.Granted)
        assertFalse(state.reported)
        assertTrue(listener.events.any { it is SdkEvent.ConsentReportPending })
        offline.shutdown()
        val online = open(dir)
        val reported = online.consent().reportPending()
        assertTrue(reported.reported)
        assertTrue(adminState().contains(online.deviceId()))
        online.shutdown()
    }
}
