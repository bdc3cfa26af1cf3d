package dev.edgepoints.demo.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Row
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalClipboardManager
import androidx.compose.ui.unit.dp
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.edgepoints.demo.DemoState

/**
 * The merchant's till: enrol this device with the merchant's one-time code,
 * check a presentation offline, and redeem it (online, exactly once).
 */
@Composable
fun TillScreen(state: DemoState, modifier: Modifier) {
    val validation by state.validation.collectAsStateWithLifecycle()
    var code by rememberSaveable { mutableStateOf("") }
    var presentation by rememberSaveable { mutableStateOf("") }
    val clipboard = LocalClipboardManager.current
    ScreenColumn("Till", modifier) {
        SectionTitle("Enrol this device")
        OutlinedTextField(code, { code = it }, label = { Text("Enrolment code") }, modifier = Modifier.fillMaxWidth())
        Button(onClick = { state.enrol(code) }) { Text("Enrol") }
        SectionTitle("A customer's coupon")
        OutlinedTextField(
            presentation, { presentation = it }, label = { Text("Scanned presentation (EPP1:…)") },
            modifier = Modifier.fillMaxWidth(),
        )
        OutlinedButton(onClick = { presentation = clipboard.getText()?.text.orEmpty() }) { Text("Paste") }
        Row(horizontalArrangement = Arrangement.spacedBy(8.dp)) {
            Button(onClick = { state.validate(presentation) }) { Text("Check (offline)") }
            Button(onClick = { state.redeem(presentation) }) { Text("Redeem") }
        }
        validation?.let { Text(it) }
    }
}
