package dev.edgepoints.demo

import dev.edgepoints.sdk.VehicleLink
import dev.edgepoints.sdk.VehicleLinkException
import java.net.HttpURLConnection
import java.net.URL

/**
 * The link to a car. The mock control plane's simulated cars take the
 * SDK's bytes over HTTP at the car's `link` address; a real car would be
 * reached over Bluetooth LE (a GATT characteristic write and notification)
 * in the same place. It only carries bytes: the SDK signs and checks them.
 * Called on an SDK worker thread, so blocking is fine.
 */
class HttpVehicleLink : VehicleLink {
    override fun exchange(vehicleId: String, address: String, request: ByteArray): ByteArray {
        val connection = URL("$address/link").openConnection() as HttpURLConnection
        try {
            connection.requestMethod = "POST"
            connection.doOutput = true
            connection.connectTimeout = 5_000
            connection.readTimeout = 10_000
            connection.outputStream.use { it.write(request) }
            if (connection.responseCode != 200) {
                throw VehicleLinkException.Failed("the car answered ${connection.responseCode}")
            }
            return connection.inputStream.use { it.readBytes() }
        } catch (e: VehicleLinkException) {
            throw e
        } catch (e: Exception) {
            throw VehicleLinkException.Failed("${e.javaClass.simpleName}: ${e.message}")
        } finally {
            connection.disconnect()
        }
    }
}
