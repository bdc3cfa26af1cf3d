package dev.edgepoints.demo

import android.content.BroadcastReceiver
import android.content.Context
import android.content.Intent
import android.content.IntentFilter
import android.net.ConnectivityManager
import android.net.Network
import android.net.NetworkCapabilities
import android.os.BatteryManager
import androidx.lifecycle.DefaultLifecycleObserver
import androidx.lifecycle.LifecycleOwner
import androidx.lifecycle.ProcessLifecycleOwner
import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.NetworkKind

/**
 * Tells the SDK what only the host knows, as it changes: the network
 * (ConnectivityManager), the battery (the sticky battery broadcast) and
 * whether the app is on screen (ProcessLifecycleOwner). The SDK decides from
 * the user's consent policy whether the node serves; the app only reports.
 */
class PlatformSignals(private val context: Context, private val sdk: EdgePoints) {
    private val connectivity = context.getSystemService(ConnectivityManager::class.java)

    private val networkCallback = object : ConnectivityManager.NetworkCallback() {
        override fun onCapabilitiesChanged(network: Network, capabilities: NetworkCapabilities) {
            report { sdk.setNetwork(kindOf(capabilities)) }
        }

        override fun onLost(network: Network) {
            report { sdk.setNetwork(NetworkKind.OFFLINE) }
        }
    }

    private val batteryReceiver = object : BroadcastReceiver() {
        override fun onReceive(context: Context, intent: Intent) {
            val level = intent.getIntExtra(BatteryManager.EXTRA_LEVEL, -1)
            val scale = intent.getIntExtra(BatteryManager.EXTRA_SCALE, 100)
            val status = intent.getIntExtra(BatteryManager.EXTRA_STATUS, -1)
            val charging = status == BatteryManager.BATTERY_STATUS_CHARGING || status == BatteryManager.BATTERY_STATUS_FULL
            if (level >= 0) report { sdk.setBattery(level * 100 / scale, charging) }
        }
    }

    private val appLifecycle = object : DefaultLifecycleObserver {
        override fun onStart(owner: LifecycleOwner) {
            report { sdk.setForeground(true) }
        }

        override fun onStop(owner: LifecycleOwner) {
            report { sdk.setForeground(false) }
        }
    }

    fun start() {
        val current = connectivity.getNetworkCapabilities(connectivity.activeNetwork)
        report { sdk.setNetwork(current?.let(::kindOf) ?: NetworkKind.OFFLINE) }
        connectivity.registerDefaultNetworkCallback(networkCallback)
        context.registerReceiver(batteryReceiver, IntentFilter(Intent.ACTION_BATTERY_CHANGED))
        ProcessLifecycleOwner.get().lifecycle.addObserver(appLifecycle)
    }

    fun stop() {
        ProcessLifecycleOwner.get().lifecycle.removeObserver(appLifecycle)
        context.unregisterReceiver(batteryReceiver)
        connectivity.unregisterNetworkCallback(networkCallback)
    }

    private fun kindOf(capabilities: NetworkCapabilities): NetworkKind = when {
        !capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_INTERNET) -> NetworkKind.OFFLINE
        capabilities.hasCapability(NetworkCapabilities.NET_CAPABILITY_NOT_METERED) -> NetworkKind.WIFI
        else -> NetworkKind.CELLULAR
    }

    /** A report the SDK refuses (it was shut down) is not the platform's problem. */
    private inline fun report(call: () -> Unit) {
        try {
            call()
        } catch (_: EdgePointsException) {
        }
    }
}
