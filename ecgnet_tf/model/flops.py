"""Parameter and FLOP counting.

``count_flops`` walks the functional graph layer by layer and computes, from each layer's static
input/output shapes, the FLOPs of ONE sample (batch 1):

* multiply-accumulates (convolutions, separable convolutions, dense, LSTM gates, attention
  projections and the two attention matmuls) count as **2 FLOPs per MAC**;
* element-wise work counts 1 FLOP per element and op: bias adds, BatchNorm at inference (2: scale
  and shift), activations, pooling windows, residual adds, LSTM gate non-linearities and cell
  updates, softmax (about 3 per score), LayerNorm (about 5 per element), attention gates.
* shape-only layers (concat, crop, upsampling, dropout, reshape) cost 0.

Why not only the TF profiler? ``tf.compat.v1.profiler`` counts ops statically on the graph, so it
counts an LSTM's while-loop body once instead of T times and has no FLOP statistics for
``Einsum`` (used by ``MultiHeadAttention``). :func:`profiler_flops` is still provided (frozen
concrete function at batch 1, its convention is also 2 FLOPs per MAC) and the tests check that
both agree exactly on a convolution + dense model.
"""
from __future__ import annotations

import math

import tensorflow as tf
import tf_keras as keras

_ZERO_COST = (
    keras.layers.InputLayer,
    keras.layers.Concatenate,
    keras.layers.Cropping1D,
    keras.layers.UpSampling1D,
    keras.layers.Dropout,
    keras.layers.Flatten,
    keras.layers.Reshape,
    keras.layers.ZeroPadding1D,
)

_ACTIVATION_COST = {"linear": 0, None: 0}


def count_params(model: keras.Model) -> int:
    """All parameters (trainable and BatchNorm moving statistics), as in ``model.summary()``."""
    return int(model.count_params())


def _as_list(shape):
    if isinstance(shape, tf.TensorShape):
        return shape.as_list()
    return list(shape)


def _numel(shape) -> int:
    dims = _as_list(shape)[1:]  # per sample: drop the batch dimension
    return int(math.prod(int(d) for d in dims))


def _act_cost(activation, n: int) -> int:
    name = getattr(activation, "__name__", activation)
    if name in _ACTIVATION_COST:
        return _ACTIVATION_COST[name] * n
    return n


def _lstm_flops(cell, steps: int, in_dim: int) -> int:
    u = cell.units
    macs = 4 * u * (in_dim + u)
    # bias (4u), 3 sigmoids + 2 tanh (5u), c = f*c + i*g (3u), h = o*tanh(c) (1u)
    elementwise = 4 * u + 5 * u + 3 * u + u
    return steps * (2 * macs + elementwise)


def _mha_flops(layer) -> int:
    q = _as_list(layer._query_shape)
    v = _as_list(layer._value_shape)
    k = _as_list(layer._key_shape)
    tq, dq = int(q[1]), int(q[-1])
    tv, dv = int(v[1]), int(v[-1])
    dk = int(k[-1])
    h, kd, vd = layer._num_heads, layer._key_dim, layer._value_dim
    out_dim = dq if layer._output_shape is None else int(math.prod(_as_list(tf.TensorShape(layer._output_shape))))
    bias = 1 if layer._use_bias else 0
    macs = (
        tq * dq * h * kd  # query projection
        + tv * dk * h * kd  # key projection
        + tv * dv * h * vd  # value projection
        + h * tq * tv * kd  # scores
        + h * tq * tv * vd  # weighted sum
        + tq * h * vd * out_dim  # output projection
    )
    elementwise = (
        h * tq * tv  # 1/sqrt(d) scaling
        + 3 * h * tq * tv  # softmax (exp, sum, divide)
        + bias * (tq * h * kd + 2 * tv * h * max(kd, vd) + tq * out_dim)
    )
    return 2 * macs + elementwise


def layer_flops(layer, input_shape, output_shape) -> int:
    """FLOPs of one call of ``layer`` for one sample (see the module docstring)."""
    if hasattr(layer, "flops") and callable(layer.flops):
        return int(layer.flops(input_shape))
    if isinstance(layer, _ZERO_COST):
        return 0
    if isinstance(layer, keras.layers.SeparableConv1D):
        _, _, c_in = _as_list(input_shape)
        _, t_out, c_out = _as_list(output_shape)
        k = int(layer.kernel_size[0])
        dm = int(layer.depth_multiplier)
        macs = t_out * c_in * dm * k + t_out * c_in * dm * c_out
        n = t_out * c_out
        return 2 * macs + (n if layer.use_bias else 0) + _act_cost(layer.activation, n)
    if isinstance(layer, keras.layers.Conv1D):  # after SeparableConv1D (not a subclass, but keep order)
        _, _, c_in = _as_list(input_shape)
        _, t_out, c_out = _as_list(output_shape)
        k = int(layer.kernel_size[0])
        macs = t_out * c_out * k * (c_in // layer.groups)
        n = t_out * c_out
        return 2 * macs + (n if layer.use_bias else 0) + _act_cost(layer.activation, n)
    if isinstance(layer, keras.layers.Dense):
        in_dim = int(_as_list(input_shape)[-1])
        n = _numel(output_shape)
        rows = n // layer.units
        macs = rows * in_dim * layer.units
        extra = (n if layer.use_bias else 0) + _act_cost(layer.activation, n)
        if getattr(layer.activation, "__name__", "") == "softmax":
            extra += 2 * n  # exp, sum, divide
        return 2 * macs + extra
    if isinstance(layer, keras.layers.BatchNormalization):
        return 2 * _numel(output_shape)
    if isinstance(layer, keras.layers.LayerNormalization):
        return 5 * _numel(output_shape)
    if isinstance(layer, (keras.layers.ReLU, keras.layers.Activation, keras.layers.LeakyReLU)):
        return _numel(output_shape)
    if isinstance(layer, (keras.layers.Add, keras.layers.Multiply, keras.layers.Subtract)):
        n_in = len(input_shape) if isinstance(input_shape, (list, tuple)) and isinstance(
            input_shape[0], (list, tuple, tf.TensorShape)) else 2
        return (n_in - 1) * _numel(output_shape)
    if isinstance(layer, (keras.layers.MaxPooling1D, keras.layers.AveragePooling1D)):
        return _numel(output_shape) * int(layer.pool_size[0])
    if isinstance(layer, (keras.layers.GlobalAveragePooling1D, keras.layers.GlobalMaxPooling1D)):
        return _numel(input_shape)
    if isinstance(layer, keras.layers.MultiHeadAttention):
        return _mha_flops(layer)
    if isinstance(layer, keras.layers.Bidirectional):
        _, steps, in_dim = _as_list(input_shape)
        return sum(
            _lstm_flops(l.cell, int(steps), int(in_dim)) for l in (layer.forward_layer, layer.backward_layer)
        )
    if isinstance(layer, keras.layers.LSTM):
        _, steps, in_dim = _as_list(input_shape)
        return _lstm_flops(layer.cell, int(steps), int(in_dim))
    raise NotImplementedError(f"no FLOP rule for layer {layer.name!r} ({type(layer).__name__})")


def _node_shapes(model, layer):
    """(input_shape, output_shape) for every call of ``layer`` inside ``model``."""
    out = []
    for i in range(len(layer._inbound_nodes)):
        key = model._node_key(layer, i) if hasattr(model, "_node_key") else None
        if key is not None and hasattr(model, "_network_nodes") and key not in model._network_nodes:
            continue
        out.append((layer.get_input_shape_at(i), layer.get_output_shape_at(i)))
    return out


def count_flops(model: keras.Model) -> int:
    """FLOPs of one forward pass at batch 1 (2 FLOPs per multiply-accumulate), analytic."""
    total = 0
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            total += count_flops(layer)
            continue
        for in_shape, out_shape in _node_shapes(model, layer):
            total += layer_flops(layer, in_shape, out_shape)
    return int(total)


def profiler_flops(model: keras.Model) -> int:
    """FLOPs reported by ``tf.compat.v1.profiler`` on the frozen batch-1 graph.

    Undercounts recurrent layers (loop body counted once) and ignores ``Einsum``; use
    :func:`count_flops` for the model report.
    """
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    specs = [tf.TensorSpec([1, *inp.shape[1:]], inp.dtype) for inp in model.inputs]

    @tf.function
    def forward(*args):
        return model(list(args) if len(args) > 1 else args[0], training=False)

    frozen = convert_variables_to_constants_v2(forward.get_concrete_function(*specs))
    graph_def = frozen.graph.as_graph_def()
    with tf.Graph().as_default() as graph:
        tf.graph_util.import_graph_def(graph_def, name="")
        opts = tf.compat.v1.profiler.ProfileOptionBuilder.float_operation()
        opts["output"] = "none"
        prof = tf.compat.v1.profiler.profile(
            graph=graph, run_meta=tf.compat.v1.RunMetadata(), cmd="op", options=opts)
    return int(prof.total_float_ops) if prof is not None else 0
