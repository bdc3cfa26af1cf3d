package dev.edgepoints.demo.ui

import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.Button
import androidx.compose.material3.OutlinedTextField
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import dev.edgepoints.demo.DemoApplication

/** Which control plane the demo talks to: a QA engineer's mock server. */
@Composable
fun SettingsScreen(app: DemoApplication, modifier: Modifier) {
    var url by rememberSaveable { mutableStateOf(app.controlPlaneUrl()) }
    ScreenColumn("Settings", modifier) {
        Text("Mock control plane (from the emulator, the host machine is 10.0.2.2)")
        OutlinedTextField(url, { url = it }, label = { Text("URL") }, modifier = Modifier.fillMaxWidth())
        Button(onClick = { app.reopen(url.trim()) }, modifier = Modifier.fillMaxWidth()) { Text("Use this control plane") }
        Text("Device ${app.sdk?.deviceId() ?: "—"}")
    }
}
