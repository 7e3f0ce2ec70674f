package org.ecgnet.demo

import android.graphics.Color
import android.net.Uri
import android.os.Bundle
import android.widget.Button
import android.widget.RadioGroup
import android.widget.TextView
import androidx.activity.result.contract.ActivityResultContracts
import androidx.appcompat.app.AppCompatActivity
import org.ecgnet.core.Decision
import org.ecgnet.core.ModelFeed
import org.ecgnet.core.Pipeline
import org.ecgnet.core.Routing
import java.util.concurrent.Executors

/**
 * Loads the pipeline config, the bundled synthetic sample and the int8 model (with its sidecar, when
 * bundled) from assets (see README: prepare_assets.sh), preprocesses with the plain-Java core,
 * classifies every window with LiteRT (every model input, then the model's decision rule) and shows
 * the trace, class probabilities, routing decision and latencies.
 */
class MainActivity : AppCompatActivity() {
    private val worker = Executors.newSingleThreadExecutor()
    private lateinit var pipeline: Pipeline
    private var classifier: EcgClassifier? = null
    private var classifierBackend: Backend? = null  // what was asked for (GPU may fall back to CPU)
    private var recording: Recording? = null

    private lateinit var source: TextView
    private lateinit var trace: EcgTraceView
    private lateinit var heatmap: HeatmapStripView
    private lateinit var heatmapLabel: TextView
    private lateinit var bars: ProbabilityBarsView
    private lateinit var routing: TextView
    private lateinit var latency: TextView
    private lateinit var backendGroup: RadioGroup

    private val openDocument = registerForActivityResult(ActivityResultContracts.OpenDocument()) { uri: Uri? ->
        if (uri != null) loadFile(uri)
    }

    override fun onCreate(savedInstanceState: Bundle?) {
        super.onCreate(savedInstanceState)
        setContentView(R.layout.activity_main)
        source = findViewById(R.id.source)
        trace = findViewById(R.id.trace)
        heatmap = findViewById(R.id.heatmap)
        heatmapLabel = findViewById(R.id.heatmapLabel)
        bars = findViewById(R.id.bars)
        routing = findViewById(R.id.routing)
        latency = findViewById(R.id.latency)
        backendGroup = findViewById(R.id.backend)

        pipeline = Pipeline.fromJson(readAsset(CONFIG_ASSET))
        recording = Recording.fromJson(readAsset(SAMPLE_ASSET))
        findViewById<Button>(R.id.runSample).setOnClickListener {
            recording = Recording.fromJson(readAsset(SAMPLE_ASSET))
            analyse()
        }
        findViewById<Button>(R.id.openFile).setOnClickListener { openDocument.launch(arrayOf("*/*")) }
        backendGroup.setOnCheckedChangeListener { _, _ -> analyse() }
        analyse()
    }

    private fun readAsset(name: String): String = assets.open(name).bufferedReader().use { it.readText() }

    /** An optional asset's text, or null when it is not bundled. */
    private fun readAssetOrNull(name: String): String? =
        try {
            readAsset(name)
        } catch (e: java.io.FileNotFoundException) {
            null
        }

    private fun selectedBackend(): Backend = when (backendGroup.checkedRadioButtonId) {
        R.id.backendNnapi -> Backend.NNAPI
        R.id.backendGpu -> Backend.GPU
        else -> Backend.CPU
    }

    private fun loadFile(uri: Uri) {
        val text = contentResolver.openInputStream(uri)?.bufferedReader()?.use { it.readText() } ?: return
        recording = try {
            if (text.trimStart().startsWith("{")) Recording.fromJson(text) else Recording.fromCsv(text, uri.lastPathSegment ?: "file")
        } catch (e: RuntimeException) {
            routing.text = "Cannot read ${uri.lastPathSegment}: ${e.message}"
            return
        }
        analyse()
    }

    private fun analyse() {
        val rec = recording ?: return
        val backend = selectedBackend()
        source.text = "${rec.description} — ${rec.leads.size} lead(s), ${rec.fs} Hz, %.1f s".format(rec.leads[0].size / rec.fs)
        routing.text = "Analysing…"
        routing.setBackgroundColor(Color.TRANSPARENT)
        worker.execute {
            try {
                val res = pipeline.run(rec.leads, rec.fs)
                val clf = classifier?.takeIf { classifierBackend == backend } ?: run {
                    classifier?.close()
                    classifier = null
                    // the sidecar's decision rule (class merge / factors) when bundled, else the config's
                    val decision = Decision.forModel(pipeline, readAssetOrNull(SIDECAR_ASSET))
                    EcgClassifier(this, MODEL_ASSET, backend, decision = decision).also {
                        classifier = it
                        classifierBackend = backend
                    }
                }
                // every input the model declares must be one the pipeline makes ("rr" / "morph": beat models)
                ModelFeed.check(pipeline, clf.inputNames)
                require(res.windows.isNotEmpty()) { "recording too short for one model window" }
                clf.classify(res.windows[0])  // warm-up (delegate set-up, caches)
                val outs = res.windows.map { clf.classify(it) }
                runOnUiThread { showResult(res, outs, clf) }
            } catch (e: Exception) {
                runOnUiThread { routing.text = "Error: ${e.message}" }
            }
        }
    }

    private fun showResult(res: Pipeline.Result, outs: List<WindowOutput>, clf: EcgClassifier) {
        trace.show(res.resampled[0], pipeline.outputRate(), res.rpeaks)
        val classes = pipeline.classes()
        val record = Routing.mean(outs.map { it.probs })
        bars.show(classes, record)
        // record-level tasks route the mean over windows; beat tasks route their least confident beat
        val confidence = if (pipeline.windowLength() >= 5 * pipeline.outputRate()) {
            record.maxOrNull() ?: 0.0
        } else {
            outs.minOf { o -> o.probs.maxOrNull()?.toDouble() ?: 0.0 }
        }
        val decision = pipeline.routing().decide(confidence)
        val top = classes[Routing.argmax(record)]
        routing.text = when (decision) {
            Routing.Decision.AUTO_REPORT -> "AUTO-REPORT: $top (p = %.3f)"
            Routing.Decision.REVIEW -> "REVIEW by cardiologist: $top (p = %.3f)"
            else -> "EXTENDED MONITORING: $top uncertain (p = %.3f)"
        }.format(confidence)
        routing.setBackgroundColor(
            when (decision) {
                Routing.Decision.AUTO_REPORT -> Color.rgb(200, 230, 201)
                Routing.Decision.REVIEW -> Color.rgb(255, 236, 179)
                else -> Color.rgb(255, 205, 210)
            }
        )
        val att = outs.firstOrNull()?.attention
        heatmap.show(att)
        heatmapLabel.text = if (att != null) "attention (model output), first window" else "model has no attention output"
        val ms = outs.map { it.invokeMs }.sorted()
        latency.text = ("preprocess %.1f ms (%d windows, %d R peaks)\n" +
            "inference  median %.1f ms, min %.1f, max %.1f per window on %s\n" +
            "inputs %s; decision rule: %s").format(
            res.millis, outs.size, res.rpeaks.size, ms[ms.size / 2], ms.first(), ms.last(), clf.backendUsed,
            clf.inputNames.joinToString(", "), clf.decision.describe(classes)
        )
    }

    override fun onDestroy() {
        worker.shutdown()
        classifier?.close()
        super.onDestroy()
    }

    companion object {
        const val CONFIG_ASSET = "pipeline_config.json"
        const val SAMPLE_ASSET = "sample_recording.json"
        const val MODEL_ASSET = "ecgnet_edge_int8.tflite"
        /** The model's sidecar JSON (export.quantize), optional: its metadata.decision is applied. */
        const val SIDECAR_ASSET = "ecgnet_edge_int8.json"
    }
}
