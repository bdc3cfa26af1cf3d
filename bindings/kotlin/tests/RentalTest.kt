package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.GeoLocation
import dev.edgepoints.sdk.RentalPhase
import dev.edgepoints.sdk.SdkEvent
import dev.edgepoints.sdk.VehicleLink
import dev.edgepoints.sdk.VehicleLinkException
import kotlinx.coroutines.delay
import kotlinx.coroutines.runBlocking
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.concurrent.CopyOnWriteArrayList
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertNotNull
import kotlin.test.assertTrue

/**
 * The host's link to cars, in Kotlin: on a phone this would write to a
 * Bluetooth characteristic; the mock's simulated cars take the same bytes
 * over HTTP. It only carries bytes, and keeps what it sent.
 */
class HttpVehicleLink : VehicleLink {
    val sent = CopyOnWriteArrayList<ByteArray>()
    private val client = HttpClient.newHttpClient()

    override fun exchange(vehicleId: String, address: String, request: ByteArray): ByteArray {
        sent.add(request)
        val post = HttpRequest.newBuilder(URI.create("$address/link"))
            .POST(HttpRequest.BodyPublishers.ofByteArray(request))
            .build()
        val answer = client.send(post, HttpResponse.BodyHandlers.ofByteArray())
        if (answer.statusCode() != 200) throw VehicleLinkException.Failed("the car answered ${answer.statusCode()}")
        return answer.body()
    }
}

/** A link whose radio is off. */
class DeadLink : VehicleLink {
    override fun exchange(vehicleId: String, address: String, request: ByteArray): ByteArray =
        throw IllegalStateException("Bluetooth is off")
}

/** QA's hand on a simulated car: `POST {address}/sim/{what}`; the raw JSON answer. */
fun car(address: String, what: String, json: String): String {
    val request = HttpRequest.newBuilder(URI.create("$address/sim/$what"))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json))
        .build()
    return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString()).body()
}

/** Raw bytes to a car's link, as someone replaying a recording near it. */
fun replayToCar(address: String, request: ByteArray): String {
    val post = HttpRequest.newBuilder(URI.create("$address/link"))
        .POST(HttpRequest.BodyPublishers.ofByteArray(request))
        .build()
    val envelope = HttpClient.newHttpClient().send(post, HttpResponse.BodyHandlers.ofString()).body()
    val payload = Regex("\"payload\":\"([^\"]+)\"").find(envelope)!!.groupValues[1]
    return String(java.util.Base64.getUrlDecoder().decode(payload))
}

val HARBOUR = GeoLocation(latitude = 48.1300, longitude = 11.5800)
val CENTRAL = GeoLocation(latitude = 48.1402, longitude = 11.5600)

class RentalTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(90)

    @Test
    fun aMemberRentsACarThroughAKotlinLinkAndReturnsItElsewhere() = runBlocking {
        val events = RecordingListener()
        val sdk = open(newDataDir(), events)
        val name = freshMember()
        sdk.members().signUp(name, PASSWORD)
        sdk.members().login(name, PASSWORD)
        val rental = sdk.rental()
        val link = HttpVehicleLink()
        rental.setVehicleLink(link)
        assertEquals("9010", rental.bindCard("4000 1234 5678 9010").cardHint)

        val near = rental.vehiclesNear(CENTRAL, 2.0)
        val chosen = near.first { it.vehicleId == "ev-101" }
        val address = assertNotNull(chosen.link)
        assertEquals(RentalPhase.RESERVED, rental.reserve(chosen.vehicleId).phase)
        assertEquals(RentalPhase.RUNNING, rental.start().phase)

        // The unlock, recorded and played again after a lock: refused.
        val unlock = link.sent.last()
        rental.lock()
        val replayed = replayToCar(address, unlock)
        assertTrue(replayed.contains("\"reason\":\"replayed_counter\""), replayed)

        // The member's card opens it offline; another card does not.
        val other = car(address, "card-tap", "{\"card_number\": \"4000 1234 5678 9011\"}")
        assertTrue(other.contains("wrong_card"), other)
        val mine = car(address, "card-tap", "{\"card_number\": \"4000123456789010\"}")
        assertTrue(mine.contains("\"locked\":false"), mine)

        car(address, "drive", "{\"to\": {\"latitude\": 48.1300, \"longitude\": 11.5800}, \"km\": 3.1}")
        val closed = rental.end()
        assertEquals(RentalPhase.CLOSED, closed.phase)
        val record = assertNotNull(closed.rental)
        assertEquals("st-harbour", record.endStationId)
        assertTrue(record.fee!!.lines.any { it.item == "one_way" }, "${record.fee}")
        assertTrue(events.events.any { it is SdkEvent.RentalChanged && it.phase == RentalPhase.CLOSED })

        // The bill and the SMS come back as notices, each once.
        val kinds = mutableListOf<String>()
        repeat(50) {
            if (kinds.containsAll(listOf("rental_billed", "sms_sent"))) return@repeat
            kinds += sdk.members().heartbeatNow().map { it.kind }
            delay(100)
        }
        assertEquals(listOf("rental_billed", "sms_sent"), kinds.sorted())
        sdk.shutdown()
    }

    @Test
    fun refusalsAndAFailingLinkAreTypedExceptions() = runBlocking {
        val first = open(newDataDir())
        val second = open(newDataDir())
        for (sdk in listOf(first, second)) {
            val name = freshMember()
            sdk.members().signUp(name, PASSWORD)
            sdk.members().login(name, PASSWORD)
        }
        first.rental().setVehicleLink(DeadLink())
        assertEquals(RentalPhase.RESERVED, first.rental().reserve("ev-202").phase)
        assertFailsWith<EdgePointsException.VehicleTaken> { second.rental().reserve("ev-202") }
        assertFailsWith<EdgePointsException.RentalState> { second.rental().start() }
        assertFailsWith<EdgePointsException.RentalState> { second.rental().end() }
        assertEquals(RentalPhase.IDLE, second.rental().status().phase)
        // The link throws: the start is issued, the unlock is in flight.
        assertFailsWith<EdgePointsException.VehicleUnreachable> { first.rental().start() }
        val status = first.rental().status()
        assertEquals(RentalPhase.STARTING, status.phase)
        assertNotNull(status.commandInFlight)
        // With a working link the SDK asks the car, then starts it.
        first.rental().setVehicleLink(HttpVehicleLink())
        assertEquals(null, first.rental().reconcile().commandInFlight)
        assertEquals(RentalPhase.RUNNING, first.rental().start().phase)
        val address = first.rental().status().vehicle!!.link!!
        car(address, "drive", "{\"to\": {\"latitude\": 48.1402, \"longitude\": 11.5600}}")
        assertEquals(RentalPhase.CLOSED, first.rental().end().phase)
        first.shutdown()
        second.shutdown()
    }

    @Test
    fun aHoldThatRunsOutExpiresTheReservationAndFreesTheCar() = runBlocking {
        val events = RecordingListener()
        val sdk = open(newDataDir(), events)
        val other = open(newDataDir())
        val name = freshMember()
        sdk.members().signUp(name, PASSWORD)
        sdk.members().login(name, PASSWORD)
        assertEquals(RentalPhase.RESERVED, sdk.rental().reserve("ev-102").phase)
        // Sixteen minutes on the mock's clock: past the 15-minute hold (and
        // the member's idle session, so a new login first).
        advanceClock(16 * 60 * 1000L)
        sdk.members().login(name, PASSWORD)
        assertEquals(RentalPhase.EXPIRED, sdk.rental().reconcile().phase)
        assertTrue(events.events.any { it is SdkEvent.RentalChanged && it.phase == RentalPhase.EXPIRED })
        assertFailsWith<EdgePointsException.RentalState> { sdk.rental().start() }
        // The car is free for anyone.
        val otherName = freshMember()
        other.members().signUp(otherName, PASSWORD)
        other.members().login(otherName, PASSWORD)
        assertEquals(RentalPhase.RESERVED, other.rental().reserve("ev-102").phase)
        assertEquals(RentalPhase.CANCELLED, other.rental().cancel().phase)
        sdk.shutdown()
        other.shutdown()
    }
}
