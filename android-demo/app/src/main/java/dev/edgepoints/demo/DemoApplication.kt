package dev.edgepoints.demo

import android.app.Application
import android.content.Context
import android.util.Log
import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.EdgePointsConfig
import dev.edgepoints.sdk.LogLevel
import dev.edgepoints.sdk.Logger
import dev.edgepoints.sdk.SdkEvents
import dev.edgepoints.sdk.setLogger
import kotlinx.coroutines.CoroutineScope
import kotlinx.coroutines.SupervisorJob
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.runBlocking
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

/**
 * Owns the one SDK instance of the app: opened at start on the control plane
 * chosen in the settings (the emulator reaches the developer machine's mock
 * at 10.0.2.2), with its secrets in the Android Keystore, the platform's
 * signals wired in, and the background worker scheduled.
 */
class DemoApplication : Application() {
    /** The app's scope: outlives screens, ends with the process. */
    val scope = CoroutineScope(SupervisorJob() + Dispatchers.Main)
    val events = SdkEvents()
    val state by lazy { DemoState(this) }

    var sdk: EdgePoints? = null
        private set
    private var signals: PlatformSignals? = null

    override fun onCreate() {
        super.onCreate()
        setLogger(LogcatLogger, LogLevel.INFO)
        open(controlPlaneUrl())
        PendingWorkWorker.schedule(this)
    }

    fun controlPlaneUrl(): String =
        getSharedPreferences("settings", Context.MODE_PRIVATE).getString("control_plane", null)
            ?: "http://10.0.2.2:8080"

    /** Reopens the SDK on another control plane (the settings screen). */
    fun reopen(url: String) {
        getSharedPreferences("settings", Context.MODE_PRIVATE).edit().putString("control_plane", url).apply()
        close()
        open(url)
        state.refreshAll()
    }

    private fun open(url: String) {
        val opened = EdgePoints(
            EdgePointsConfig(
                endpoints = listOf(url),
                dataDir = File(filesDir, "edgepoints").path,
                platform = "android",
                appVersion = "demo-0.1.0",
            ),
            listener = events,
            secretStore = KeystoreSecretStore(this),
        )
        sdk = opened
        signals = PlatformSignals(this, opened).also { it.start() }
    }

    private fun close() {
        signals?.stop()
        signals = null
        sdk?.let { old -> runBlocking { old.shutdown() } }
        sdk?.close()
        sdk = null
    }
}
