package dev.edgepoints.demo

import android.os.Bundle
import androidx.activity.ComponentActivity
import androidx.activity.compose.setContent
import androidx.compose.foundation.layout.padding
import androidx.compose.material3.AlertDialog
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.NavigationBar
import androidx.compose.material3.NavigationBarItem
import androidx.compose.material3.Scaffold
import androidx.compose.material3.Text
import androidx.compose.material3.TextButton
import androidx.compose.runtime.Composable
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.saveable.rememberSaveable
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.edgepoints.demo.ui.ConsentScreen
import dev.edgepoints.demo.ui.CouponsScreen
import dev.edgepoints.demo.ui.NodeScreen
import dev.edgepoints.demo.ui.PointsScreen
import dev.edgepoints.demo.ui.RentalScreen
import dev.edgepoints.demo.ui.SettingsScreen
import dev.edgepoints.demo.ui.TillScreen

/** The demo's screens, one per flow. */
enum class Screen(val label: String) {
    Consent("Consent"),
    Node("Node"),
    Points("Points"),
    Coupons("Coupons"),
    Till("Till"),
    Rental("Rental"),
    Settings("Settings"),
}

class MainActivity : ComponentActivity() {
    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        val app = application as DemoApplication
        setContent {
            MaterialTheme {
                DemoApp(app)
            }
        }
    }
}

@Composable
fun DemoApp(app: DemoApplication) {
    val state = app.state
    var screen by rememberSaveable { mutableStateOf(Screen.Consent) }
    val message by state.message.collectAsStateWithLifecycle()
    Scaffold(
        bottomBar = {
            NavigationBar {
                Screen.entries.forEach { each ->
                    NavigationBarItem(
                        selected = screen == each,
                        onClick = { screen = each },
                        icon = {},
                        label = { Text(each.label) },
                    )
                }
            }
        },
    ) { padding ->
        val modifier = Modifier.padding(padding)
        when (screen) {
            Screen.Consent -> ConsentScreen(state, modifier)
            Screen.Node -> NodeScreen(state, modifier)
            Screen.Points -> PointsScreen(state, modifier)
            Screen.Coupons -> CouponsScreen(state, modifier)
            Screen.Till -> TillScreen(state, modifier)
            Screen.Rental -> RentalScreen(state, modifier)
            Screen.Settings -> SettingsScreen(app, modifier)
        }
    }
    message?.let { text ->
        AlertDialog(
            onDismissRequest = state::dismissMessage,
            confirmButton = { TextButton(onClick = state::dismissMessage) { Text("OK") } },
            text = { Text(text) },
        )
    }
}
