package dev.edgepoints.demo.ui

import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Slider
import androidx.compose.material3.Switch
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableFloatStateOf
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Alignment
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.edgepoints.demo.DemoState
import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.ConsentStatus
import dev.edgepoints.sdk.ServingGate

/** The user's consent to serve, with the policy's switches. */
@Composable
fun ConsentScreen(state: DemoState, modifier: Modifier) {
    val consent by state.consent.collectAsStateWithLifecycle()
    val gate by state.gate.collectAsStateWithLifecycle()
    val granted = (consent?.status as? ConsentStatus.Granted)?.policy
    var wifi by remember(granted) { mutableStateOf(granted?.serveOnWifi ?: true) }
    var cellular by remember(granted) { mutableStateOf(granted?.serveOnCellular ?: false) }
    var chargingOnly by remember(granted) { mutableStateOf(granted?.chargingOnly ?: false) }
    var background by remember(granted) { mutableStateOf(granted?.serveInBackground ?: false) }
    var minBattery by remember(granted) { mutableFloatStateOf((granted?.minBatteryPercent ?: 30).toFloat()) }

    ScreenColumn("Share this phone", modifier) {
        Text(
            "With your consent, this phone keeps verified copies of popular content and serves " +
                "them to people nearby using the same app. You earn points for the time and the bytes.",
        )
        Text(
            when (val status = consent?.status) {
                is ConsentStatus.Granted -> "You agreed (terms ${status.termsVersion})" +
                    if (consent?.reported == true) "" else " — not yet reported, it will be"
                is ConsentStatus.Revoked -> "You stopped sharing"
                else -> "You have not decided"
            },
        )
        Text(
            when (val g = gate) {
                is ServingGate.Serving -> "Serving now"
                is ServingGate.Paused -> "Paused: ${g.reason}"
                else -> "Not serving"
            },
        )
        SectionTitle("When may it serve?")
        Toggle("On Wi-Fi", wifi) { wifi = it }
        Toggle("On mobile data", cellular) { cellular = it }
        Toggle("Only while charging", chargingOnly) { chargingOnly = it }
        Toggle("With the app in the background", background) { background = it }
        Text("Not below ${minBattery.toInt()} % battery")
        Slider(value = minBattery, onValueChange = { minBattery = it }, valueRange = 0f..100f, steps = 19)
        Button(
            onClick = {
                state.grant(
                    ConsentPolicy(
                        serveOnWifi = wifi,
                        serveOnCellular = cellular,
                        chargingOnly = chargingOnly,
                        minBatteryPercent = minBattery.toInt(),
                        serveInBackground = background,
                    ),
                )
            },
            modifier = Modifier.fillMaxWidth(),
        ) { Text(if (granted == null) "I agree: share this phone" else "Save my choices") }
        OutlinedButton(onClick = { state.revoke(purgeCache = true) }, modifier = Modifier.fillMaxWidth()) {
            Text("Stop sharing and delete the cache")
        }
    }
}

@Composable
private fun Toggle(label: String, checked: Boolean, onChange: (Boolean) -> Unit) {
    Row(modifier = Modifier.fillMaxWidth(), verticalAlignment = Alignment.CenterVertically) {
        Text(label, modifier = Modifier.weight(1f))
        Switch(checked = checked, onCheckedChange = onChange)
    }
}
