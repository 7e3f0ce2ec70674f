package org.ecgnet.demo

import android.content.Context
import org.ecgnet.core.Decision
import org.ecgnet.core.ModelFeed
import org.ecgnet.core.Pipeline
import org.ecgnet.core.Signals
import org.tensorflow.lite.DataType
import org.tensorflow.lite.Delegate
import org.tensorflow.lite.Interpreter
import org.tensorflow.lite.Tensor
import org.tensorflow.lite.gpu.GpuDelegate
import org.tensorflow.lite.nnapi.NnApiDelegate
import java.io.Closeable
import java.io.FileInputStream
import java.nio.ByteBuffer
import java.nio.ByteOrder
import java.nio.MappedByteBuffer
import java.nio.channels.FileChannel
import kotlin.math.roundToInt

/** Where the interpreter runs: XNNPACK on the CPU (default) or an optional delegate. */
enum class Backend { CPU, NNAPI, GPU }

/**
 * One window's result: class probabilities after the decision rule ([rawProbs]: as the model output
 * them), optional attention map, invoke time.
 */
class WindowOutput(val probs: FloatArray, val rawProbs: FloatArray, val attention: FloatArray?, val invokeMs: Double)

/**
 * Runs the bundled ecgnet .tflite (int8 "edge" model from export.quantize, or a float one) with the
 * LiteRT Interpreter. Every input the model declares (signature key, or tensor name without a
 * signature) is fed from the core's window by name (ModelFeed): "ecg" [1, W, C], "prior" [1, W, 1],
 * and for beat models "rr" [1, 8] (RR features of the window's beat) and "morph" [1, 8] (its
 * beat-template features); an input the app cannot make is refused with its name. int8/uint8
 * tensors are quantised with their own scale / zero point, outputs dequantised, and the class
 * probabilities go through [decision] (the sidecar's class merge / class factors) before a class is
 * chosen. Any output whose name contains "attention" or "mask" is returned as an attention map for
 * the heatmap strip.
 */
class EcgClassifier(
    context: Context,
    assetName: String,
    backend: Backend,
    threads: Int = 4,
    val decision: Decision = Decision.NONE,
) : Closeable {
    /** A declared model input: its signature key or tensor name, the core's name for it, its tensor index. */
    private class ModelInput(val key: String, val name: String, val index: Int)

    private val delegate: Delegate?
    private val interpreter: Interpreter
    private val signature: String?
    private val modelInputs: List<ModelInput>
    val backendUsed: Backend

    /** The core names of the model's inputs ("ecg", "prior", "rr", "morph"), in the model's order. */
    val inputNames: List<String> get() = modelInputs.map { it.name }

    init {
        val model = loadAsset(context, assetName)
        val options = Interpreter.Options().setNumThreads(threads).setUseXNNPACK(true)
        var used = backend
        delegate = when (backend) {
            Backend.NNAPI -> NnApiDelegate()
            Backend.GPU -> try {
                GpuDelegate()
            } catch (e: Throwable) {  // no GPU delegate on this device: fall back to XNNPACK
                used = Backend.CPU
                null
            }
            Backend.CPU -> null
        }
        delegate?.let { options.addDelegate(it) }
        interpreter = Interpreter(model, options)
        backendUsed = used
        signature = interpreter.signatureKeys.firstOrNull()
        modelInputs = try {
            val sig = signature
            if (sig != null) {
                interpreter.getSignatureInputs(sig).map { ModelInput(it, ModelFeed.nameOf(it), -1) }
            } else {
                (0 until interpreter.inputTensorCount).map { i ->
                    val n = interpreter.getInputTensor(i).name()
                    ModelInput(n, ModelFeed.nameOf(n), i)
                }
            }
        } catch (e: IllegalArgumentException) {  // an input the app cannot make: free the interpreter
            interpreter.close()
            (delegate as? AutoCloseable)?.close()
            throw e
        }
    }

    private fun inputTensor(input: ModelInput): Tensor {
        val sig = signature
        return if (sig != null) {
            interpreter.getInputTensorFromSignature(input.key, sig)
        } else {
            interpreter.getInputTensor(input.index)
        }
    }

    private fun outputNames(): List<String> =
        signature?.let { interpreter.getSignatureOutputs(it).toList() }
            ?: (0 until interpreter.outputTensorCount).map { interpreter.getOutputTensor(it).name() }

    private fun outputTensor(name: String): Tensor {
        val sig = signature
        if (sig != null) return interpreter.getOutputTensorFromSignature(name, sig)
        val i = (0 until interpreter.outputTensorCount).first { interpreter.getOutputTensor(it).name() == name }
        return interpreter.getOutputTensor(i)
    }

    /**
     * Classifies one window of the core's pipeline: its z-scored ECG and prior map, and its beat's
     * "rr" / "morph" rows when the model takes them (each sized by the model's input tensor).
     */
    fun classify(window: Pipeline.ModelWindow): WindowOutput {
        val feeds: List<Any> = modelInputs.map { input ->
            val t = inputTensor(input)
            encode(t, ModelFeed.values(window, input.name, t.numElements()))
        }
        val names = outputNames()
        val buffers = names.associateWith { name ->
            ByteBuffer.allocateDirect(outputTensor(name).numBytes()).order(ByteOrder.nativeOrder())
        }
        // the LSTM ops keep their state in variable tensors: reset so each window stands alone
        interpreter.resetVariableTensors()
        val t0 = System.nanoTime()
        val sig = signature
        if (sig != null) {
            val inputs = HashMap<String, Any>()
            modelInputs.forEachIndexed { i, input -> inputs[input.key] = feeds[i] }
            interpreter.runSignature(inputs, HashMap<String, Any>(buffers), sig)
        } else {
            // modelInputs lists the input tensors by index: feeds are in the interpreter's order
            val outs = HashMap<Int, Any>()
            names.forEachIndexed { i, n -> outs[i] = buffers.getValue(n) }
            interpreter.runForMultipleInputsOutputs(feeds.toTypedArray(), outs)
        }
        val ms = (System.nanoTime() - t0) / 1e6
        val probName = names.firstOrNull { it.contains("probs") } ?: names.first()
        val raw = decode(outputTensor(probName), buffers.getValue(probName))
        val probs = Signals.toFloat(decision.apply(raw))  // class merge, then class factors (renormalised)
        val attName = names.firstOrNull { it != probName && (it.contains("attention") || it.contains("mask")) }
        val att = attName?.let { decode(outputTensor(it), buffers.getValue(it)) }
        return WindowOutput(probs, raw, att, ms)
    }

    private fun encode(t: Tensor, values: FloatArray): ByteBuffer {
        val buf = ByteBuffer.allocateDirect(t.numBytes()).order(ByteOrder.nativeOrder())
        when (t.dataType()) {
            DataType.FLOAT32 -> values.forEach { buf.putFloat(it) }
            DataType.INT8, DataType.UINT8 -> {
                val q = t.quantizationParams()
                val (lo, hi) = if (t.dataType() == DataType.INT8) -128 to 127 else 0 to 255
                values.forEach {
                    val v = ((it / q.scale).roundToInt() + q.zeroPoint).coerceIn(lo, hi)
                    buf.put(v.toByte())
                }
            }
            else -> throw IllegalStateException("unsupported input type ${t.dataType()}")
        }
        buf.rewind()
        return buf
    }

    private fun decode(t: Tensor, buf: ByteBuffer): FloatArray {
        buf.rewind()
        val n = t.shape().fold(1) { a, b -> a * b }
        return when (t.dataType()) {
            DataType.FLOAT32 -> FloatArray(n) { buf.float }
            DataType.INT8 -> FloatArray(n) { (buf.get().toInt() - t.quantizationParams().zeroPoint) * t.quantizationParams().scale }
            DataType.UINT8 -> FloatArray(n) {
                ((buf.get().toInt() and 0xff) - t.quantizationParams().zeroPoint) * t.quantizationParams().scale
            }
            else -> throw IllegalStateException("unsupported output type ${t.dataType()}")
        }
    }

    override fun close() {
        interpreter.close()
        (delegate as? AutoCloseable)?.close()
    }

    companion object {
        fun loadAsset(context: Context, name: String): MappedByteBuffer {
            context.assets.openFd(name).use { fd ->
                FileInputStream(fd.fileDescriptor).channel.use { ch ->
                    return ch.map(FileChannel.MapMode.READ_ONLY, fd.startOffset, fd.declaredLength)
                }
            }
        }
    }
}
