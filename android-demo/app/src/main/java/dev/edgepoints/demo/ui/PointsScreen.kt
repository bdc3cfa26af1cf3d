package dev.edgepoints.demo.ui

import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.edgepoints.demo.DemoState

/** The balance and the ledger; the screen follows `PointsCredited` and `PointsSpent` events. */
@Composable
fun PointsScreen(state: DemoState, modifier: Modifier) {
    val balance by state.balance.collectAsStateWithLifecycle()
    val ledger by state.ledger.collectAsStateWithLifecycle()
    LaunchedEffect(Unit) { state.refreshPoints() }
    ScreenColumn("Points", modifier) {
        balance?.let { b ->
            Text("${b.balance} points", style = androidx.compose.material3.MaterialTheme.typography.displaySmall)
            Text("Today ${b.today} of ${b.dailyCap}; online ${b.onlineMs / 60_000} min, delivered ${bytes(b.deliveredBytes)}")
        } ?: Text("Not yet known")
        OutlinedButton(onClick = state::refreshPoints, modifier = Modifier.fillMaxWidth()) { Text("Refresh") }
        SectionTitle("Ledger")
        ledger.forEach { entry ->
            Text("${if (entry.points >= 0) "+" else ""}${entry.points}  ${entry.reason}  ${entry.detail}")
        }
    }
}
