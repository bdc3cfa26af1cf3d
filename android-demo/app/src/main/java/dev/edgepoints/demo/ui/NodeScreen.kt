package dev.edgepoints.demo.ui

import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.edgepoints.demo.DemoState

/** The edge node: start and stop it, what it served, how the control plane sees it. */
@Composable
fun NodeScreen(state: DemoState, modifier: Modifier) {
    val node by state.node.collectAsStateWithLifecycle()
    val stats by state.stats.collectAsStateWithLifecycle()
    val presence by state.presence.collectAsStateWithLifecycle()
    ScreenColumn("Edge node", modifier) {
        if (node == null) {
            Button(onClick = state::startNode, modifier = Modifier.fillMaxWidth()) {
                Text("Sync the cache and start serving")
            }
        } else {
            Text("Serving on ${node?.localAddr() ?: "—"}")
            OutlinedButton(onClick = state::stopNode, modifier = Modifier.fillMaxWidth()) { Text("Stop") }
        }
        SectionTitle("Served")
        stats?.let { s ->
            Text("${s.requests} requests, ${bytes(s.bytesServed)} (${s.hits} hits, ${s.misses} misses)")
            Text("This month: ${bytes(s.uploadedThisMonthBytes)} of ${bytes(s.monthlyCapBytes)}")
            if (s.rejected.isNotEmpty()) Text("Refused: ${s.rejected.entries.joinToString { "${it.key} ${it.value}" }}")
        } ?: Text("Nothing yet")
        SectionTitle("As the control plane sees it")
        presence?.let { p ->
            Text("Reported: ${p.reportedAddresses.joinToString().ifEmpty { "—" }}")
            Text("Reached: ${p.reachableAddresses.joinToString().ifEmpty { "not yet probed" }}")
            p.heartbeats.lastAccepted?.let { Text("Last heartbeat: #${it.seq}, balance ${it.balance}") }
            p.heartbeats.lastError?.let { Text("Heartbeats failing: $it") }
        } ?: Text("Not reported yet")
    }
}
