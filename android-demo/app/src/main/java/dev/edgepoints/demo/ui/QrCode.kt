package dev.edgepoints.demo.ui

import androidx.compose.foundation.Canvas
import androidx.compose.foundation.background
import androidx.compose.foundation.layout.aspectRatio
import androidx.compose.foundation.layout.fillMaxWidth
import androidx.compose.foundation.layout.padding
import androidx.compose.runtime.Composable
import androidx.compose.ui.Modifier
import androidx.compose.ui.geometry.Offset
import androidx.compose.ui.geometry.Size
import androidx.compose.ui.graphics.Color
import androidx.compose.ui.unit.dp

/**
 * Draws a QR code from the SDK's module matrix (`qrWidth` × `qrWidth`,
 * row by row, `true` = dark), with the quiet zone scanners need.
 */
@Composable
fun QrCode(width: Int, modules: List<Boolean>, modifier: Modifier = Modifier) {
    Canvas(
        modifier = modifier.fillMaxWidth().aspectRatio(1f).background(Color.White).padding(16.dp),
    ) {
        val cell = size.width / width
        for (row in 0 until width) {
            for (column in 0 until width) {
                if (modules[row * width + column]) {
                    drawRect(Color.Black, Offset(column * cell, row * cell), Size(cell, cell))
                }
            }
        }
    }
}
