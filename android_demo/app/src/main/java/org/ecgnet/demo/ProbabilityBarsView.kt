package org.ecgnet.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.util.AttributeSet
import android.view.View

/** Horizontal bar chart of class probabilities (0..1), the top class highlighted. */
class ProbabilityBarsView @JvmOverloads constructor(context: Context, attrs: AttributeSet? = null) : View(context, attrs) {
    private var labels: List<String> = emptyList()
    private var probs = DoubleArray(0)
    private val bar = Paint().apply { color = Color.rgb(120, 144, 156) }
    private val top = Paint().apply { color = Color.rgb(0, 121, 107) }
    private val text = Paint().apply { color = Color.BLACK; textSize = 36f; isAntiAlias = true }

    fun show(classNames: List<String>, p: DoubleArray) {
        labels = classNames
        probs = p
        invalidate()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        if (probs.isEmpty()) return
        val rowH = height.toFloat() / probs.size
        val labelW = 160f
        val best = probs.indices.maxByOrNull { probs[it] } ?: 0
        for (k in probs.indices) {
            val y0 = k * rowH + rowH * 0.15f
            val y1 = (k + 1) * rowH - rowH * 0.15f
            val x1 = labelW + (width - labelW - 140f) * probs[k].toFloat().coerceIn(0f, 1f)
            canvas.drawText(labels.getOrElse(k) { "class $k" }, 0f, y1 - rowH * 0.1f, text)
            canvas.drawRect(labelW, y0, x1, y1, if (k == best) top else bar)
            canvas.drawText("%.3f".format(probs[k]), x1 + 12f, y1 - rowH * 0.1f, text)
        }
    }
}
