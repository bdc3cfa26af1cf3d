package dev.edgepoints.demo.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.edgepoints.demo.DemoState
import dev.edgepoints.sdk.RentalPhase

/** Cars near you, the rental's steps, and the notices (bill, SMS) that follow it. */
@Composable
fun RentalScreen(state: DemoState, modifier: Modifier) {
    val vehicles by state.vehicles.collectAsStateWithLifecycle()
    val rental by state.rental.collectAsStateWithLifecycle()
    val notices by state.notices.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) { state.findCars() }
    ScreenColumn("Rent a car", modifier) {
        MemberLogin(state)
        val phase = rental?.phase ?: RentalPhase.IDLE
        SectionTitle("Your rental: ${phase.name.lowercase()}")
        rental?.vehicle?.let { Text("${it.model} ${it.plate}, ${it.batteryPercent} %") }
        rental?.lastRefusal?.let { Text("The car refused: $it") }
        rental?.rental?.fee?.let { fee -> Text("Fee: ${fee.totalCents / 100.0} ${fee.currency}") }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            when (phase) {
                RentalPhase.RESERVED -> {
                    Button(onClick = state::startRental) { Text("Start and unlock") }
                    OutlinedButton(onClick = state::cancelReservation) { Text("Cancel") }
                }
                RentalPhase.RUNNING -> {
                    OutlinedButton(onClick = state::unlock) { Text("Unlock") }
                    OutlinedButton(onClick = state::lock) { Text("Lock") }
                    Button(onClick = state::endRental) { Text("Return") }
                }
                else -> {}
            }
        }
        if (phase !in setOf(RentalPhase.RESERVED, RentalPhase.STARTING, RentalPhase.RUNNING, RentalPhase.ENDING)) {
            SectionTitle("Cars near you")
            vehicles.forEach { car ->
                Card(modifier = Modifier.fillMaxWidth()) {
                    Text("${car.model} ${car.plate}")
                    Text("${car.batteryPercent} % · ${car.rangeKm} km · ${"%.1f".format(car.distanceKm ?: 0.0)} km away · ${car.state}")
                    Button(onClick = { state.reserve(car.vehicleId) }) { Text("Reserve") }
                }
            }
            OutlinedButton(onClick = state::findCars, modifier = Modifier.fillMaxWidth()) { Text("Refresh") }
        }
        SectionTitle("Notices")
        OutlinedButton(onClick = state::checkNotices) { Text("Check now") }
        notices.forEach { Text("${it.kind}: ${it.text}") }
    }
}
