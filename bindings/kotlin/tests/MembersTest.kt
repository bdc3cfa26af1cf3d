package dev.edgepoints.sdk.test

import dev.edgepoints.sdk.EdgePointsException
import dev.edgepoints.sdk.MemberState
import dev.edgepoints.sdk.SdkEvent
import kotlinx.coroutines.runBlocking
import org.junit.Rule
import org.junit.Test
import org.junit.rules.Timeout
import java.net.URI
import java.net.http.HttpClient
import java.net.http.HttpRequest
import java.net.http.HttpResponse
import java.util.UUID
import kotlin.test.assertEquals
import kotlin.test.assertFailsWith
import kotlin.test.assertIs
import kotlin.test.assertTrue

/** QA posts a notice to a member on the mock control plane. */
fun postNotice(memberId: String, kind: String, text: String) {
    val request = HttpRequest.newBuilder(URI.create("$controlPlane/admin/members/$memberId/notices"))
        .header("content-type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"kind\": \"$kind\", \"text\": \"$text\"}"))
        .build()
    val response = HttpClient.newHttpClient().send(request, HttpResponse.BodyHandlers.ofString())
    check(response.statusCode() == 201) { "notice refused: ${response.body()}" }
}

/** A member name no other test uses. */
fun freshMember() = "kt-" + UUID.randomUUID().toString().take(8)

const val PASSWORD = "correct horse battery"

class MembersTest {
    @get:Rule
    val timeout: Timeout = Timeout.seconds(60)

    @Test
    fun aMemberSignsUpLogsInGetsANoticeOnceAndLogsOut() = runBlocking {
        val events = RecordingListener()
        val sdk = open(newDataDir(), events)
        val name = freshMember()
        val signedUp = sdk.members().signUp(name, PASSWORD)
        assertEquals(name, signedUp.member)
        val session = sdk.members().login(name.uppercase(), PASSWORD)
        assertEquals(signedUp.memberId, session.memberId)
        val state = sdk.members().state()
        assertIs<MemberState.LoggedIn>(state)
        assertEquals(name, state.session.member)
        assertTrue(events.events.any { it is SdkEvent.LoggedIn && it.memberId == session.memberId })

        postNotice(session.memberId, "message", "hello from QA")
        // This beat brings it, unless the login's own beat (at once, in the
        // background) was later than the post and brought it first.
        val brought = sdk.members().heartbeatNow()
        assertTrue(brought.all { it.text == "hello from QA" }, "$brought")
        assertEquals(listOf<Any>(), sdk.members().heartbeatNow(), "acknowledged, not again")
        val heard = events.events.filterIsInstance<SdkEvent.NoticeReceived>().map { it.notice.text }
        assertEquals(listOf("hello from QA"), heard, "the app heard it once")
        assertEquals(listOf("message"), sdk.members().notices(10).map { it.kind })

        sdk.members().logout()
        assertEquals(MemberState.LoggedOut, sdk.members().state())
        assertFailsWith<EdgePointsException.NotLoggedIn> { sdk.members().checkSession() }
        assertTrue(events.events.any { it is SdkEvent.LoggedOut })
        sdk.shutdown()
    }

    @Test
    fun refusalsAreTypedExceptions() = runBlocking {
        val sdk = open(newDataDir())
        val name = freshMember()
        sdk.members().signUp(name, PASSWORD)
        assertFailsWith<EdgePointsException.MemberTaken> { sdk.members().signUp(name, PASSWORD) }
        assertFailsWith<EdgePointsException.InvalidInput> { sdk.members().signUp("a b", PASSWORD) }
        assertFailsWith<EdgePointsException.LoginFailed> { sdk.members().login(name, "not the password") }
        assertFailsWith<EdgePointsException.LoginFailed> { sdk.members().login(freshMember(), PASSWORD) }
        sdk.shutdown()
    }

    @Test
    fun anExpiredSessionIsOneEventAndATypedExceptionUntilTheNextLogin() = runBlocking {
        val events = RecordingListener()
        val dir = newDataDir()
        val sdk = open(dir, events)
        val name = freshMember()
        sdk.members().signUp(name, PASSWORD)
        val session = sdk.members().login(name, PASSWORD)
        // Past the default idle timeout (15 min) on the mock's clock.
        advanceClock(16 * 60 * 1000)
        val e = assertFailsWith<EdgePointsException.SessionExpired> { sdk.members().checkSession() }
        assertEquals(session.memberId, e.memberId)
        assertFailsWith<EdgePointsException.SessionExpired> { sdk.members().heartbeatNow() }
        assertEquals(1, events.events.count { it is SdkEvent.SessionExpired }, "heard once")
        assertEquals(MemberState.Expired(session.memberId), sdk.members().state())

        // A restart keeps the verdict; a new login ends it.
        sdk.shutdown()
        val again = open(dir)
        assertEquals(MemberState.Expired(session.memberId), again.members().state())
        again.members().login(name, PASSWORD)
        assertEquals(session.memberId, again.members().checkSession().memberId)
        again.shutdown()
    }
}
