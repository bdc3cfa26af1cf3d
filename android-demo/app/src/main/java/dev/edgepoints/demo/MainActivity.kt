package dev.edgepoints.demo

import android.os.Bundle
import android.util.Log
import android.widget.Button
import android.widget.LinearLayout
import android.widget.ScrollView
import android.widget.TextView
import androidx.appcompat.app.AppCompatActivity
import androidx.lifecycle.lifecycleScope
import dev.edgepoints.sdk.ConsentPolicy
import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.EdgePointsConfig
import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.EventListener
import dev.edgepoints.sdk.LogLevel
import dev.edgepoints.sdk.Logger
import dev.edgepoints.sdk.NetworkKind
import dev.edgepoints.sdk.SdkEvent
import dev.edgepoints.sdk.setLogger
import kotlinx.coroutines.launch
import java.io.File

/** SDK logs to Logcat. */
private object LogcatLogger : Logger {
    override fun log(level: LogLevel, target: String, message: String) {
        val priority = when (level) {
            LogLevel.ERROR -> Log.ERROR
            LogLevel.WARN -> Log.WARN
            LogLevel.INFO -> Log.INFO
            LogLevel.DEBUG -> Log.DEBUG
            LogLevel.TRACE -> Log.VERBOSE
        }
        Log.println(priority, "edgepoints", "$target: $message")
    }
}

class MainActivity : AppCompatActivity() {
    // The emulator reaches the developer machine's mock control plane here.
    private val controlPlane = "http://10.0.2.2:8080"
    private lateinit var sdk: EdgePoints
    private lateinit var status: TextView
    private lateinit var events: TextView

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setLogger(LogcatLogger, LogLevel.INFO)
        status = TextView(this)
        events = TextView(this)
        val grant = Button(this).apply { text = "Share this phone (grant consent)" }
        val revoke = Button(this).apply { text = "Stop sharing (revoke)" }
        val column = LinearLayout(this).apply {
            orientation = LinearLayout.VERTICAL
            setPadding(32, 32, 32, 32)
            addView(status)
            addView(grant)
            addView(revoke)
            addView(events)
        }
        setContentView(ScrollView(this).apply { addView(column) })

        sdk = EdgePoints(
            EdgePointsConfig(
                endpoints = listOf(controlPlane),
                dataDir = File(filesDir, "edgepoints").path,
                platform = "android",
                appVersion = "demo",
            ),
            object : EventListener {
                override fun onEvent(event: SdkEvent) {
                    runOnUiThread { events.text = "$event\n${events.text}" }
                }
            },
        )
        sdk.setNetwork(NetworkKind.WIFI)
        showStatus()
        grant.setOnClickListener {
            lifecycleScope.launch {
                try {
                    sdk.register()
                    sdk.consent().grant("2026-11", ConsentPolicy(chargingOnly = true))
                } catch (e: EdgePointsException) {
                    events.text = "error: ${e.message}\n${events.text}"
                }
                showStatus()
            }
        }
        revoke.setOnClickListener {
            lifecycleScope.launch {
                try {
                    sdk.consent().revoke(true)
                } catch (e: EdgePointsException) {
                    events.text = "error: ${e.message}\n${events.text}"
                }
                showStatus()
            }
        }
    }

    private fun showStatus() {
        status.text = "device ${sdk.deviceId()}\nconsent ${sdk.consent().state().status}"
    }

    override fun onDestroy() {
        // lifecycleScope is already cancelled here; shutdown is quick.
        kotlinx.coroutines.runBlocking { sdk.shutdown() }
        super.onDestroy()
    }
}
