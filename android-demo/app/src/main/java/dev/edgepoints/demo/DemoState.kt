package dev.edgepoints.demo

import dev.edgepoints.sdk.Activity
import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.ConsentState
import dev.edgepoints.sdk.CouponPresentation
import dev.edgepoints.sdk.CouponValidation
import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.GeoLocation
import dev.edgepoints.sdk.HeldCoupon
import dev.edgepoints.sdk.LedgerEntry
import dev.edgepoints.sdk.MemberNotice
import dev.edgepoints.sdk.MemberState
import dev.edgepoints.sdk.NodeHandle
import dev.edgepoints.sdk.NodeStats
import dev.edgepoints.sdk.PointsBalance
import dev.edgepoints.sdk.PresenceStatus
import dev.edgepoints.sdk.RentalStatus
import dev.edgepoints.sdk.SdkEvent
import dev.edgepoints.sdk.ServingGate
import dev.edgepoints.sdk.Vehicle
import kotlinx.coroutines.delay
import kotlinx.coroutines.flow.MutableStateFlow
import kotlinx.coroutines.flow.StateFlow
import kotlinx.coroutines.flow.asStateFlow
import kotlinx.coroutines.flow.update
import kotlinx.coroutines.launch

/** Where the demo pretends the phone is (the mock's demo city). */
val DEMO_LOCATION = GeoLocation(latitude = 48.1402, longitude = 11.5600)

/**
 * The UI's state, one StateFlow per screen, fed the way an app should: read
 * from the SDK once, then refreshed on the events that say it changed.
 * Every action runs in the app's scope (a screen may go away meanwhile) and
 * shows a failure as the SDK words it.
 */
class DemoState(private val app: DemoApplication) {
    private val sdk: EdgePoints? get() = app.sdk

    private val _message = MutableStateFlow<String?>(null)
    val message: StateFlow<String?> = _message.asStateFlow()

    // Consent and node
    private val _consent = MutableStateFlow<ConsentState?>(null)
    val consent = _consent.asStateFlow()
    private val _gate = MutableStateFlow<ServingGate?>(null)
    val gate = _gate.asStateFlow()
    private val _node = MutableStateFlow<NodeHandle?>(null)
    val node = _node.asStateFlow()
    private val _stats = MutableStateFlow<NodeStats?>(null)
    val stats = _stats.asStateFlow()
    private val _presence = MutableStateFlow<PresenceStatus?>(null)
    val presence = _presence.asStateFlow()

    // Points
    private val _balance = MutableStateFlow<PointsBalance?>(null)
    val balance = _balance.asStateFlow()
    private val _ledger = MutableStateFlow<List<LedgerEntry>>(emptyList())
    val ledger = _ledger.asStateFlow()

    // Members, coupons, rental
    private val _member = MutableStateFlow<MemberState?>(null)
    val member = _member.asStateFlow()
    private val _notices = MutableStateFlow<List<MemberNotice>>(emptyList())
    val notices = _notices.asStateFlow()
    private val _activities = MutableStateFlow<List<Activity>>(emptyList())
    val activities = _activities.asStateFlow()
    private val _held = MutableStateFlow<List<HeldCoupon>>(emptyList())
    val held = _held.asStateFlow()
    private val _validation = MutableStateFlow<String?>(null)
    val validation = _validation.asStateFlow()
    private val _vehicles = MutableStateFlow<List<Vehicle>>(emptyList())
    val vehicles = _vehicles.asStateFlow()
    private val _rental = MutableStateFlow<RentalStatus?>(null)
    val rental = _rental.asStateFlow()

    init {
        app.scope.launch {
            app.events.flow.collect { event -> onEvent(event) }
        }
        refreshAll()
    }

    private fun onEvent(event: SdkEvent) {
        when (event) {
            is SdkEvent.ConsentChanged -> _consent.value = event.state
            is SdkEvent.HostStateChanged -> refreshGate()
            is SdkEvent.NodeStats -> _stats.value = event.stats
            is SdkEvent.PointsCredited, is SdkEvent.PointsSpent, is SdkEvent.CouponGivenBack -> refreshPoints()
            is SdkEvent.CouponClaimed -> refreshCoupons()
            is SdkEvent.LoggedIn, is SdkEvent.LoggedOut, is SdkEvent.SessionExpired -> refreshMember()
            is SdkEvent.NoticeReceived -> _notices.update { listOf(event.notice) + it }
            is SdkEvent.RentalChanged -> refreshRental()
            is SdkEvent.AddressesProbed -> refreshPresence()
            else -> {}
        }
    }

    fun refreshAll() {
        val sdk = sdk ?: return
        sdk.setLocation(DEMO_LOCATION)
        rental { it.setVehicleLink(HttpVehicleLink()) }
        reading { _consent.value = sdk.consent().state() }
        refreshGate()
        refreshMember()
        refreshCoupons()
        refreshRental()
        refreshPoints()
    }

    private fun refreshGate() {
        _gate.value = sdk?.servingGate()
    }

    private fun refreshPresence() {
        _presence.value = sdk?.presence()?.status()
    }

    private fun refreshMember() {
        reading {
            val sdk = sdk ?: return@reading
            _member.value = sdk.members().state()
            if (_member.value is MemberState.LoggedIn) _notices.value = sdk.members().notices(20)
        }
    }

    private fun refreshCoupons() {
        reading { _held.value = sdk?.coupons()?.held().orEmpty() }
    }

    private fun refreshRental() {
        reading { _rental.value = sdk?.rental()?.status() }
    }

    fun refreshPoints() = act {
        val sdk = sdk ?: return@act
        _balance.value = sdk.points().balance()
        _ledger.value = sdk.points().ledger(0).entries.reversed()
    }

    // Consent and node -------------------------------------------------------

    fun grant(policy: ConsentPolicy) = act {
        _consent.value = sdk?.consent()?.grant("2026-11", policy)
        refreshGate()
    }

    fun revoke(purgeCache: Boolean) = act {
        _node.value?.stop()
        _node.value = null
        _consent.value = sdk?.consent()?.revoke(purgeCache)
        refreshGate()
    }

    fun startNode() = act {
        val sdk = sdk ?: return@act
        val report = sdk.node().sync()
        _message.value = "synced manifest ${report.manifestVersion}: ${report.fetched} fetched"
        _node.value = sdk.node().start("0.0.0.0:0")
        refreshPresence()
    }

    fun stopNode() = act {
        _node.value?.stop()
        _node.value = null
    }

    // Members ----------------------------------------------------------------

    fun signUpOrLogIn(member: String, password: String, signUp: Boolean) = act {
        val sdk = sdk ?: return@act
        if (signUp) sdk.members().signUp(member, password)
        sdk.members().login(member, password)
        refreshMember()
        refreshPoints()
    }

    fun logout() = act {
        sdk?.members()?.logout()
        refreshMember()
    }

    // Coupons ----------------------------------------------------------------

    fun browse() = act {
        _activities.value = sdk?.coupons()?.liveActivities(DEMO_LOCATION).orEmpty()
    }

    fun claim(activityId: String) = act {
        sdk?.coupons()?.claim(activityId, null)
        refreshCoupons()
    }

    /** The coupon's presentation, new each 30-second step (a screenshot goes stale). */
    suspend fun present(serial: String): CouponPresentation? = try {
        sdk?.coupons()?.present(serial)
    } catch (e: EdgePointsException) {
        _message.value = e.message
        null
    }

    fun enrol(code: String) = act {
        val identity = sdk?.merchant()?.enrol(code)
        _message.value = identity?.let { "this device now acts for ${it.name}" }
    }

    /** The till's offline check of a scanned (here: pasted) presentation. */
    fun validate(presentation: String) = act {
        val verdict = sdk?.merchant()?.validate(presentation)
        _validation.value = when (verdict) {
            is CouponValidation.Valid -> "valid: coupon ${verdict.serial}"
            is CouponValidation.Refused -> "refused: ${verdict.reason}"
            null -> null
        }
    }

    fun redeem(presentation: String) = act {
        val redemption = sdk?.merchant()?.redeem(presentation, "demo-${System.currentTimeMillis()}")
        _validation.value = redemption?.let { "redeemed ${it.serial} (roll back until ${it.rollbackUntilMs})" }
    }

    // Rental -----------------------------------------------------------------

    fun findCars() = act {
        _vehicles.value = sdk?.rental()?.vehiclesNear(DEMO_LOCATION, 5.0).orEmpty()
    }

    fun reserve(vehicleId: String) = act { _rental.value = sdk?.rental()?.reserve(vehicleId) }
    fun startRental() = act { _rental.value = sdk?.rental()?.start() }
    fun unlock() = act {
        sdk?.rental()?.unlock()
        refreshRental()
    }
    fun lock() = act {
        sdk?.rental()?.lock()
        refreshRental()
    }
    fun endRental() = act { _rental.value = sdk?.rental()?.end() }
    fun cancelReservation() = act { _rental.value = sdk?.rental()?.cancel() }

    /** Polls the member heartbeat a few times, as the SDK's own timer would: notices arrive as events. */
    fun checkNotices() = act {
        repeat(3) {
            sdk?.members()?.heartbeatNow()
            delay(500)
        }
    }

    fun dismissMessage() {
        _message.value = null
    }

    private fun act(work: suspend () -> Unit) {
        app.scope.launch {
            try {
                work()
            } catch (e: EdgePointsException) {
                _message.value = e.message
            }
        }
    }

    private inline fun reading(block: () -> Unit) {
        try {
            block()
        } catch (e: EdgePointsException) {
            _message.value = e.message
        }
    }

    private inline fun rental(block: (dev.edgepoints.sdk.Rental) -> Unit) {
        sdk?.rental()?.let(block)
    }
}
