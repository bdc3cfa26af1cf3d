package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.EdgePointsConfig
import dev.edgepoints.sdk.EventListener
import dev.edgepoints.sdk.LogLevel
import dev.edgepoints.sdk.Logger
import dev.edgepoints.sdk.SdkEvent
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.CopyOnWriteArrayList

val controlPlane: String = System.getProperty("edgepoints.controlPlane")
    ?: error("run with -Dedgepoints.controlPlane=<mock server URL>")

fun newDataDir(): Path = Files.createTempDirectory("edgepoints-kt")

fun config(dataDir: Path, endpoints: List<String> = listOf(controlPlane), maxAttempts: Int = 4) =
    EdgePointsConfig(
        endpoints = endpoints,
        dataDir = dataDir.toString(),
        requestTimeoutMs = 5_000L,
        connectTimeoutMs = 2_000L,
        maxAttempts = maxAttempts,
        retryBaseDelayMs = 20L,
        retryMaxDelayMs = 200L,
        platform = "jvm-test",
        appVersion = "1.0",
    )

class RecordingListener : EventListener {
    val events = CopyOnWriteArrayList<SdkEvent>()
    override fun onEvent(event: SdkEvent) {
        events.add(event)
    }
}

class RecordingLogger : Logger {
    val lines = CopyOnWriteArrayList<String>()
    override fun log(level: LogLevel, target: String, message: String) {
        lines.add("$level $target $message")
    }
}

fun open(dataDir: Path, listener: EventListener? = null) = EdgePoints(config(dataDir), listener)

/** The mock control plane's state, as raw JSON text (no JSON library on this classpath). */
fun adminState(): String {
    val request = HttpRequest.newBuilder(URI.create("$controlPlane/admin/state")).GET().build()
    return HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString()).body()
}

fun appliedRegistrations(): Int =
    Regex("\"registrations\":(\\d+)").find(adminState())?.groupValues?.get(1)?.toInt() ?: 0

/** Adds a fault rule on the mock control plane (raw JSON). */
fun addFault(ruleJson: String) {
    val request = HttpRequest.newBuilder(URI.create("$controlPlane/admin/faults"))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(ruleJson))
        .build()
    val response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString())
    check(response.statusCode() == 201) { "fault refused: ${response.body()}" }
}

fun resetFaults() {
    val request = HttpRequest.newBuilder(URI.create("$controlPlane/admin/faults")).DELETE().build()
    HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString())
}

/** The mock's route keys used here, as `edgepoints_protocol::paths::routes` spells them. */
object Routes {
    const val DEVICE_CONSENT = "PUT /v1/devices/{device_id}/consent"
    const val DEVICE_OFFLINE_REDEMPTIONS = "POST /v1/devices/{device_id}/offline-redemptions"
}
