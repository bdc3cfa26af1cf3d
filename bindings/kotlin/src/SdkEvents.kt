// Hand-written beside the generated bindings and shipped in the same AAR:
// what Kotlin developers expect that uniffi does not generate.
package dev.edgepoints.sdk

import kotlinx.coroutines.channels.BufferOverflow
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.MutableSharedFlow
import kotlinx.coroutines.flow.SharedFlow
import kotlinx.coroutines.flow.asSharedFlow
import kotlinx.coroutines.flow.filterIsInstance

/**
 * The SDK's events as a [Flow]: pass it as the listener when opening the
 * SDK, then collect [flow] wherever the UI needs it.
 *
 * ```kotlin
 * val events = SdkEvents()
 * val sdk = EdgePoints(config, events)
 * lifecycleScope.launch {
 *     events.of<SdkEvent.PointsCredited>().collect { balance = it.balance }
 * }
 * ```
 *
 * Events are sent from SDK threads and never wait for a slow collector: a
 * collector that falls more than [capacity] events behind loses the oldest
 * ones. Events say that something changed; the SDK's reads (`points().balance()`,
 * `rental().status()`, …) stay the truth, so a screen that (re)starts reads
 * first and then follows the events.
 */
class SdkEvents(
    /** How many events a slow collector may fall behind before the oldest go. */
    val capacity: Int = 256,
) : EventListener {
    private val events = MutableSharedFlow<SdkEvent>(
        replay = 0,
        extraBufferCapacity = capacity,
        onBufferOverflow = BufferOverflow.DROP_OLDEST,
    )

    /** Every event from now on, for every collector. */
    val flow: SharedFlow<SdkEvent> = events.asSharedFlow()

    /** Events of one kind, e.g. `of<SdkEvent.RentalChanged>()`. */
    inline fun <reified T : SdkEvent> of(): Flow<T> = flow.filterIsInstance<T>()

    /** Called by the SDK; never blocks it. */
    override fun onEvent(event: SdkEvent) {
        events.tryEmit(event)
    }
}
