package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.EdgePoints
import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.MemberState
import dev.edgepoints.sdk.SecretStore
import dev.edgepoints.sdk.SecretStoreException
import kotlinx.coroutines.runBlocking
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import java.nio.file.Files
import java.nio.file.Path
import java.util.concurrent.ConcurrentHashMap
import kotlin.io.path.isRegularFile
import kotlin.test.assertContentEquals
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertNotNull
import kotlin.test.assertNull
import kotlin.test.assertTrue

/** A keystore in memory, as a test host keeps one. */
class MemorySecretStore : SecretStore {
    val secrets = ConcurrentHashMap<String, ByteArray>()
    override fun load(name: String): ByteArray? = secrets[name]?.copyOf()
    override fun save(name: String, secret: ByteArray) {
        secrets[name] = secret.copyOf()
    }
    override fun delete(name: String) {
        secrets.remove(name)
    }
}

/** A keystore that throws, as a locked or broken one does. */
class FailingSecretStore(private val failSaves: Boolean = true, private val failLoads: Boolean = true) : SecretStore {
    val inner = MemorySecretStore()
    override fun load(name: String): ByteArray? {
        if (failLoads) throw IllegalStateException("keystore locked")
        return inner.load(name)
    }
    override fun save(name: String, secret: ByteArray) {
        if (failSaves) throw SecretStoreException.Failed("keystore locked")
        inner.save(name, secret)
    }
    override fun delete(name: String) = inner.delete(name)
}

/**
 * Whether `needle` occurs in any file of the data directory. SQLite removes
 * its `-shm` and `-wal` files as the last connection closes, which may be
 * just after the listing: a file gone by the time it is read holds nothing.
 */
fun dataDirContains(dir: Path, needle: ByteArray): Boolean = Files.walk(dir).use { files ->
    files.filter { it.isRegularFile() }.anyMatch { file ->
        val bytes = try {
            Files.readAllBytes(file)
        } catch (gone: java.nio.file.NoSuchFileException) {
            ByteArray(0)
        }
        (0..bytes.size - needle.size).any { at -> needle.indices.all { bytes[at + it] == needle[it] } }
    }
}

class SecretStoreTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(60)

    @Test
    fun theDeviceKeyAndTheSessionLiveInTheHostStoreAndNotInTheDataDirectory() = runBlocking {
        val dir = newDataDir()
        val store = MemorySecretStore()
        val deviceId = EdgePoints(config(dir), null, store).use { sdk ->
            val key = assertNotNull(store.secrets["device-key"])
            assertEquals(32, key.size)
            val name = freshMember()
            sdk.members().signUp(name, PASSWORD)
            sdk.members().login(name, PASSWORD)
            val sessionKey = assertNotNull(store.secrets["member-session"])
            sdk.shutdown()
            assertTrue(!dataDirContains(dir, key), "the device key is not in the data directory")
            assertTrue(!dataDirContains(dir, sessionKey), "the session key is not in the data directory")
            sdk.deviceId()
        }
        // The same device after a restart, still logged in.
        EdgePoints(config(dir), null, store).use { sdk ->
            assertEquals(deviceId, sdk.deviceId())
            assertIs<MemberState.LoggedIn>(sdk.members().state())
            sdk.members().checkSession()
            sdk.members().logout()
            assertNull(store.secrets["member-session"], "logout forgets the session key")
            sdk.shutdown()
        }
    }

    @Test
    fun aStoreThatLostTheDeviceKeyFailsTheOpenAndMakesNoNewIdentity() = runBlocking {
        val dir = newDataDir()
        val store = MemorySecretStore()
        val deviceId = EdgePoints(config(dir), null, store).use { sdk ->
            sdk.register()
            sdk.shutdown()
            sdk.deviceId()
        }
        val wiped = MemorySecretStore()
        repeat(2) {
            val lost = assertFailsWith<EdgePointsException.SecretLost> { EdgePoints(config(dir), null, wiped) }
            assertTrue(lost.secret.contains(deviceId), lost.message)
            assertTrue(wiped.secrets.isEmpty(), "no new key was made")
        }
        // With its key back, the device is the same device.
        EdgePoints(config(dir), null, store).use { sdk ->
            assertEquals(deviceId, sdk.deviceId())
            sdk.shutdown()
        }
    }

    @Test
    fun aThrowingStoreIsATypedErrorAndChangesNothing() = runBlocking {
        val dir = newDataDir()
        val failed = assertFailsWith<EdgePointsException.SecretStore> {
            EdgePoints(config(dir), null, FailingSecretStore())
        }
        assertTrue(failed.reason.contains("keystore locked"), failed.message)

        // Loads work, saves fail: no identity can be kept, so none is made.
        val readOnly = FailingSecretStore(failSaves = true, failLoads = false)
        assertFailsWith<EdgePointsException.SecretStore> { EdgePoints(config(dir), null, readOnly) }
        assertTrue(readOnly.inner.secrets.isEmpty())

        // A working store then opens the directory as a new device.
        val store = MemorySecretStore()
        EdgePoints(config(dir), null, store).use { sdk ->
            assertNotNull(store.secrets["device-key"])
            sdk.shutdown()
        }
    }

    @Test
    fun aDeviceThatKeptItsKeyInTheDatabaseMovesItToTheHostStore() = runBlocking {
        val dir = newDataDir()
        val deviceId = EdgePoints(config(dir), null).use { sdk ->
            sdk.shutdown()
            sdk.deviceId()
        }
        val store = MemorySecretStore()
        EdgePoints(config(dir), null, store).use { sdk ->
            assertEquals(deviceId, sdk.deviceId(), "the same identity")
            sdk.shutdown()
        }
        val key = assertNotNull(store.secrets["device-key"])
        assertTrue(!dataDirContains(dir, key), "moved, not copied")
        // From now on the database alone is not enough.
        assertFailsWith<EdgePointsException.SecretLost> { EdgePoints(config(dir), null) }
        EdgePoints(config(dir), null, store).use { sdk ->
            assertEquals(deviceId, sdk.deviceId())
            sdk.shutdown()
        }
    }
}
