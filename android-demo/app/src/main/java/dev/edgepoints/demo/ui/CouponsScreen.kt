package dev.edgepoints.demo.ui

import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.material3.Button
import androidx.compose.material3.Card
import androidx.compose.material3.OutlinedButton
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.runtime.LaunchedEffect
import androidx.compose.runtime.getValue
import androidx.compose.runtime.mutableStateOf
import androidx.compose.runtime.remember
import androidx.compose.runtime.setValue
import androidx.compose.ui.Modifier
import androidx.compose.ui.platform.LocalClipboardManager
import androidx.compose.ui.text.AnnotatedString
import androidx.lifecycle.compose.collectAsStateWithLifecycle
import dev.edgepoints.demo.DemoState
import dev.edgepoints.sdk.CouponPresentation
import kotlinx.coroutines.delay

/** Coupons near you, claiming one, and showing it at the till. */
@Composable
fun CouponsScreen(state: DemoState, modifier: Modifier) {
    val activities by state.activities.collectAsStateWithLifecycle()
    val held by state.held.collectAsStateWithLifecycle()
    var shown by remember { mutableStateOf<String?>(null) }
    LaunchedEffect(Unit) { state.browse() }
    ScreenColumn("Coupons", modifier) {
        MemberLogin(state)
        SectionTitle("Near you")
        activities.forEach { activity ->
            Card(modifier = Modifier.fillMaxWidth()) {
                Text(activity.draft.title)
                Text("${activity.merchantName} · ${activity.draft.shop}")
                Text(activity.draft.description)
                activity.draft.pointsPrice?.let { Text("${it.points} points") }
                Button(onClick = { state.claim(activity.activityId) }) { Text("Claim") }
            }
        }
        OutlinedButton(onClick = state::browse, modifier = Modifier.fillMaxWidth()) { Text("Refresh") }
        SectionTitle("Yours")
        held.forEach { coupon ->
            Card(modifier = Modifier.fillMaxWidth()) {
                Text(coupon.title)
                Button(onClick = { shown = if (shown == coupon.serial) null else coupon.serial }) {
                    Text(if (shown == coupon.serial) "Hide" else "Show at the till")
                }
                if (shown == coupon.serial) Presentation(state, coupon.serial)
            }
        }
    }
}

/**
 * The coupon as the till scans it: a new presentation every 30-second step
 * (signed by this phone's key, so a screenshot goes stale), drawn from the
 * SDK's module matrix.
 */
@Composable
private fun Presentation(state: DemoState, serial: String) {
    var presentation by remember(serial) { mutableStateOf<CouponPresentation?>(null) }
    LaunchedEffect(serial) {
        while (true) {
            val next = state.present(serial) ?: break
            presentation = next
            delay((next.refreshAtMs - System.currentTimeMillis()).coerceAtLeast(1_000))
        }
    }
    val clipboard = LocalClipboardManager.current
    presentation?.let { p ->
        QrCode(p.qrWidth, p.qrModules)
        // Without a camera (an emulator), the till screen takes the text.
        OutlinedButton(onClick = { clipboard.setText(AnnotatedString(p.text)) }) { Text("Copy for the till") }
    }
}
