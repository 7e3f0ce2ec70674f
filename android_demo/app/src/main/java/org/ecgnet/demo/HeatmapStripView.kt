package org.ecgnet.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View

/** A one-row heatmap of values in 0..1 (attention map, or the physiological prior) over a window. */
class HeatmapStripView @JvmOverloads constructor(context: Context, attrs: AttributeSet? = null) : View(context, attrs) {
    private var values = FloatArray(0)
    private val paint = Paint()

    fun show(v: FloatArray?) {
        values = v ?: FloatArray(0)
        visibility = if (values.isEmpty()) GONE else VISIBLE
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        if (values.isEmpty()) return
        val lo = values.minOrNull() ?: 0f
        val hi = values.maxOrNull() ?: 1f
        val scale = if (hi > lo) 1f / (hi - lo) else 1f
        val cellW = width.toFloat() / values.size
        for (i in values.indices) {
            val a = ((values[i] - lo) * scale).coerceIn(0f, 1f)
            paint.color = Color.rgb((255 * a).toInt(), (80 * (1 - a)).toInt(), (255 * (1 - a)).toInt())
            canvas.drawRect(i * cellW, 0f, (i + 1) * cellW + 1f, height.toFloat(), paint)
        }
    }
}
