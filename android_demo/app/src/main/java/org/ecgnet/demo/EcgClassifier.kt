package org.ecgnet.demo

import android.content.Context
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

/** One window's result: class probabilities, optional attention map, invoke time. */
class WindowOutput(val probs: FloatArray, val attention: FloatArray?, val invokeMs: Double)

/**
 * Runs the bundled ecgnet .tflite (int8 "edge" model from export.quantize, or a float one) with the
 * LiteRT Interpreter. Inputs are the signature's "ecg" [1, W, C] and "prior" [1, W, 1]; int8/uint8
 * tensors are quantised with their own scale / zero point, outputs dequantised. Any output whose
 * name contains "attention" or "mask" is returned as an attention map for the heatmap strip.
 */
class EcgClassifier(context: Context, assetName: String, backend: Backend, threads: Int = 4) : Closeable {
    private val delegate: Delegate?
    private val interpreter: Interpreter
    private val signature: String?
    val backendUsed: Backend

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
    }

    private fun inputTensor(name: String): Tensor {
        val sig = signature
        if (sig != null) return interpreter.getInputTensorFromSignature(name, sig)
        for (i in 0 until interpreter.inputTensorCount) {
            val t = interpreter.getInputTensor(i)
            if (t.name().contains(name)) return t
        }
        throw IllegalStateException("model has no input named like '$name'")
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

    /** Classifies one z-scored window [C][W] with its prior map [W]. */
    fun classify(ecg: Array<FloatArray>, prior: FloatArray): WindowOutput {
        val w = prior.size
        val c = ecg.size
        val ecgValues = FloatArray(w * c)
        for (t in 0 until w) for (l in 0 until c) ecgValues[t * c + l] = ecg[l][t]  // time-major
        val inputs: Map<String, Any> = mapOf(
            "ecg" to encode(inputTensor("ecg"), ecgValues),
            "prior" to encode(inputTensor("prior"), prior),
        )
        val names = outputNames()
        val buffers = names.associateWith { name ->
            ByteBuffer.allocateDirect(outputTensor(name).numBytes()).order(ByteOrder.nativeOrder())
        }
        // the LSTM ops keep their state in variable tensors: reset so each window stands alone
        interpreter.resetVariableTensors()
        val t0 = System.nanoTime()
        val sig = signature
        if (sig != null) {
            interpreter.runSignature(inputs, HashMap<String, Any>(buffers), sig)
        } else {
            val order = (0 until interpreter.inputTensorCount).map { i ->
                val n = interpreter.getInputTensor(i).name()
                if (n.contains("ecg")) inputs.getValue("ecg") else inputs.getValue("prior")
            }
            val outs = HashMap<Int, Any>()
            names.forEachIndexed { i, n -> outs[i] = buffers.getValue(n) }
            interpreter.runForMultipleInputsOutputs(order.toTypedArray(), outs)
        }
        val ms = (System.nanoTime() - t0) / 1e6
        val probName = names.firstOrNull { it.contains("probs") } ?: names.first()
        val probs = decode(outputTensor(probName), buffers.getValue(probName))
        val attName = names.firstOrNull { it != probName && (it.contains("attention") || it.contains("mask")) }
        val att = attName?.let { decode(outputTensor(it), buffers.getValue(it)) }
        return WindowOutput(probs, att, ms)
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
