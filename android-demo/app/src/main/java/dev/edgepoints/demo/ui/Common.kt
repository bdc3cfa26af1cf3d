package dev.edgepoints.demo.ui

import androidx.compose.foundation.layout.Arrangement
import androidx.compose.foundation.layout.Column
import androidx.compose.foundation.layout.fillMaxSize
import androidx.compose.foundation.layout.padding
import androidx.compose.foundation.rememberScrollState
import androidx.compose.foundation.verticalScroll
import androidx.compose.material3.MaterialTheme
import androidx.compose.material3.Text
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.unit.dp

/** A scrolling column of sections, the layout of every demo screen. */
@Composable
fun ScreenColumn(title: String, modifier: Modifier, content: @Composable () -> Unit) {
    Column(
        modifier = modifier.fillMaxSize().verticalScroll(rememberScrollState()).padding(16.dp),
        verticalArrangement = Arrangement.spacedBy(12.dp),
    ) {
        Text(title, style = MaterialTheme.typography.headlineSmall)
        content()
    }
}

@Composable
fun SectionTitle(text: String) {
    Text(text, style = MaterialTheme.typography.titleMedium)
}

/** "12.3 MB" for a byte count. */
fun bytes(count: Long): String = when {
    count >= 1_000_000_000 -> "%.1f GB".format(count / 1e9)
    count >= 1_000_000 -> "%.1f MB".format(count / 1e6)
    count >= 1_000 -> "%.1f kB".format(count / 1e3)
    else -> "$count B"
}
