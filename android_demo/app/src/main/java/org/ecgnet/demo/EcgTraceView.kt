package org.ecgnet.demo

import android.content.Context
import android.graphics.Canvas
import android.graphics.Color
import android.graphics.Paint
import android.graphics.Path
import android.util.AttributeSet
import android.view.View

/**
 * Scrolling ECG trace: shows [windowSeconds] of one lead, advancing in real time (a monitor-style
 * sweep over the recording), with a 0.2 s / 0.5 mV grid and the detected R peaks marked.
 */
class EcgTraceView @JvmOverloads constructor(context: Context, attrs: AttributeSet? = null) : View(context, attrs) {
    private var signal = FloatArray(0)
    private var fs = 360.0
    private var peaks = IntArray(0)
    private var startNanos = 0L
    var windowSeconds = 5.0

    private val grid = Paint().apply { color = Color.rgb(255, 205, 205); strokeWidth = 1f }
    private val trace = Paint().apply {
        color = Color.BLACK; strokeWidth = 3f; style = Paint.Style.STROKE; isAntiAlias = true
    }
    private val peak = Paint().apply { color = Color.rgb(200, 0, 0); isAntiAlias = true }
    private val path = Path()

    /** Shows [x] (mV) sampled at [fsHz] with R peaks at sample indices [rpeaks]. */
    fun show(x: FloatArray, fsHz: Double, rpeaks: IntArray) {
        signal = x
        fs = fsHz
        peaks = rpeaks
        startNanos = System.nanoTime()
        postInvalidateOnAnimation()
    }

    override fun onDraw(canvas: Canvas) {
        super.onDraw(canvas)
        val w = width.toFloat()
        val h = height.toFloat()
        val mvRange = 3.0f  // -1.5 .. 1.5 mV
        val pxPerMv = h / mvRange
        val span = (windowSeconds * fs).toInt().coerceAtLeast(2)
        val pxPerSample = w / span
        var s = 0.0
        while (s * fs * pxPerSample <= w) {  // 0.2 s grid
            val x = (s * fs * pxPerSample).toFloat()
            canvas.drawLine(x, 0f, x, h, grid)
            s += 0.2
        }
        var mv = -1.5f
        while (mv <= 1.5f) {
            val y = h / 2 - mv * pxPerMv
            canvas.drawLine(0f, y, w, y, grid)
            mv += 0.5f
        }
        if (signal.size < 2) return
        val elapsed = (System.nanoTime() - startNanos) / 1e9
        val maxStart = (signal.size - span).coerceAtLeast(0)
        val start = if (maxStart == 0) 0 else ((elapsed * fs).toLong() % (maxStart + 1)).toInt()
        val end = minOf(signal.size, start + span)
        path.reset()
        for (i in start until end) {
            val x = (i - start) * pxPerSample
            val y = h / 2 - signal[i].coerceIn(-1.5f, 1.5f) * pxPerMv
            if (i == start) path.moveTo(x, y) else path.lineTo(x, y)
        }
        canvas.drawPath(path, trace)
        for (p in peaks) {
            if (p in start until end) {
                canvas.drawCircle((p - start) * pxPerSample, h / 2 - signal[p].coerceIn(-1.5f, 1.5f) * pxPerMv, 6f, peak)
            }
        }
        if (maxStart > 0) postInvalidateOnAnimation()  // keep scrolling
    }
}
