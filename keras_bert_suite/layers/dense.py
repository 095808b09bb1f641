"""`bert_dense`: the Dense layer every BERT sublayer uses, initialised as BERT initialises its linear layers.

Weights are drawn from a truncated normal with `config.initializer_range` as standard deviation (biases start at
zero); the layer computes in the dtype policy it is given (its owner's, so mixed precision follows the model).

Shapes: [..., in] -> [..., units]; kernel [in, units] (transformers stores it transposed, [units, in]).

Example:
    >>> import numpy as np
    >>> from keras_bert_suite import BertConfig
    >>> layer = bert_dense(BertConfig(hidden_size=32, num_attention_heads=4), 8, "dense", "float32")
    >>> tuple(layer(np.zeros([2, 32], "float32")).shape)
    (2, 8)
"""

import keras


def bert_dense(config, units, name, policy, use_bias=True):
    """A `keras.layers.Dense(units)` named `name` with BERT's initialisation.

    Args:
        config: a `BertConfig` (its `initializer_range`).
        units: output size.
        name: the layer's name.
        policy: the dtype policy (a name or a `keras.DTypePolicy`).
        use_bias: False for a layer whose bias lives elsewhere (the MLM decoder's).
    """
    return keras.layers.Dense(
        units,
        use_bias=use_bias,
        kernel_initializer=keras.initializers.TruncatedNormal(stddev=config.initializer_range),
        name=name,
        dtype=policy,
    )


class Int8Dense(keras.layers.Dense):
    """A Dense layer whose kernel is int8 (one scale per output channel) and whose product runs in 8-bit integers.

    Made from a built float `keras.layers.Dense` by `quantize_dense_int8` (for export; it does not train). Each
    call quantizes its input dynamically to uint8 over the range of the whole input, or of each row with
    `row_scales` (asymmetric: the minimum maps to 0, the maximum to 255), multiplies by the int8 kernel with
    TensorFlow's oneDNN u8 x s8 kernel (`QuantizedMatMulWithBiasAndDequantize`: AVX512_VNNI or AMX where the CPU
    has them), then undoes the scales and adds the float bias:

        x ~ lo + step * q                     (q uint8, step = (max - min) / 255, lo = min(x); per row or not)
        w[:, j] ~ scale[j] * k[:, j]          (k int8 in [-127, 127])
        x @ w[:, j] ~ (step * q @ k[:, j] + lo * sum_i k[i, j]) * scale[j]

    The kernel exists on x86-64 builds of TensorFlow with oneDNN (the default on Linux; not with
    `TF_ENABLE_ONEDNN_OPTS=0`, where the op answers an empty tensor: the reshape here then fails loudly rather
    than answering wrong numbers). Not XLA-compilable: run it in graph mode.

    Shapes: [..., in] float -> [..., units] in the layer's compute dtype. Weights: `kernel_int8` [in, units]
    int8, `kernel_scale` [units], `kernel_column_sum` [units] (sums of `kernel_int8`'s columns), `bias` [units].

    Example:
        >>> import numpy as np
        >>> dense = keras.layers.Dense(8)
        >>> _ = dense(np.ones([2, 16], "float32"))
        >>> layer = quantize_dense_int8(dense)
        >>> tuple(layer(np.ones([2, 3, 16], "float32")).shape)
        (2, 3, 8)
    """

    row_scales = False  # set by quantize_dense_int8; a class default keeps layers quantized before it existed

    def call(self, inputs, training=None):
        import tensorflow as tf

        x = tf.cast(inputs, tf.float32)
        units, depth = self.units, self.kernel_int8.shape[0]
        out_shape = tf.concat([tf.shape(x)[:-1], [units]], 0)
        x = tf.reshape(x, [-1, depth])
        rows = tf.shape(x)[0]
        if self.row_scales:  # one range per row: [rows, 1]
            lo = tf.minimum(tf.reduce_min(x, axis=-1, keepdims=True), 0.0)
            hi = tf.maximum(tf.reduce_max(x, axis=-1, keepdims=True), lo)
        else:  # one range for the whole input; 0 for an empty one (the minimum of nothing is +inf)
            lo = tf.minimum(tf.reduce_min(x), 0.0)
            hi = tf.maximum(tf.reduce_max(x), lo)
        step = tf.maximum((hi - lo) / 255.0, 1e-30)
        q = tf.bitcast(tf.cast(tf.clip_by_value(tf.round((x - lo) / step), 0.0, 255.0), tf.uint8), tf.quint8)
        k = tf.bitcast(self.kernel_int8, tf.qint8)
        # SCALED mode: the op scales the int32 products by max_a / 255 and by max_b / 127 (= 1), then adds its bias.
        matmul = tf.raw_ops.QuantizedMatMulWithBiasAndDequantize
        fixed = dict(min_a=0.0, min_b=-127.0, max_b=127.0, min_freezed_output=-1.0, max_freezed_output=1.0,
                     Toutput=tf.float32, input_quant_mode="SCALED")
        if self.row_scales:  # the op takes one input range: it returns the integer products, scaled here per row
            product = matmul(a=q, b=k, bias=tf.zeros([units]), max_a=255.0, **fixed)
            product = tf.reshape(product, [rows, units]) * step + lo * self.kernel_column_sum
        else:  # max_a / 255 = step, and the bias is the asymmetric input's zero-point term
            product = tf.reshape(matmul(a=q, b=k, bias=lo * self.kernel_column_sum, max_a=step * 255.0, **fixed),
                                 [rows, units])
        y = product * self.kernel_scale
        if self.bias is not None:
            y = y + tf.cast(self.bias, tf.float32)
        if self.activation is not None:
            y = self.activation(y)
        return tf.cast(tf.reshape(y, out_shape), self.compute_dtype)


def quantize_dense_int8(layer, row_scales=False):
    """Turn a built float `keras.layers.Dense` into an `Int8Dense` in place and return it.

    The kernel becomes int8 with one scale per output channel (`scale[j] = max_i |w[i, j]| / 127`, round to
    nearest); the float kernel is dropped, the bias stays float. The layer keeps its name and its place in its
    owner, so the owner's call runs the int8 product.

    Args:
        layer: a built `keras.layers.Dense` (exactly that class; subclasses are refused).
        row_scales: quantize each call's input with one range per row (per token in BERT: a token with large
            activations no longer coarsens the steps of the others) instead of one range for the whole input.

    Example: see `Int8Dense`.
    """
    import numpy as np

    if type(layer) is not keras.layers.Dense:
        raise TypeError(f"quantize_dense_int8 takes a keras.layers.Dense, got {type(layer).__name__} {layer.name!r}")
    if not layer.built:
        raise ValueError(f"Dense layer {layer.name!r} is not built: call it once before quantizing")
    kernel = np.asarray(keras.ops.convert_to_numpy(layer.kernel), "float32")
    peak = np.abs(kernel).max(axis=0)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype("float32")
    quantized = np.clip(np.round(kernel / scale), -127, 127).astype("int8")
    layer._tracker.unlock()
    del layer._kernel
    layer.kernel_int8 = layer.add_weight(name="kernel_int8", shape=quantized.shape, dtype="int8",
                                         initializer="zeros", trainable=False)
    layer.kernel_scale = layer.add_weight(name="kernel_scale", shape=scale.shape, dtype="float32",
                                          initializer="ones", trainable=False)
    layer.kernel_column_sum = layer.add_weight(name="kernel_column_sum", shape=scale.shape, dtype="float32",
                                               initializer="zeros", trainable=False)
    layer._tracker.lock()
    layer.kernel_int8.assign(quantized)
    layer.kernel_scale.assign(scale)
    layer.kernel_column_sum.assign(quantized.astype("int64").sum(axis=0).astype("float32"))
    layer.__class__ = Int8Dense
    layer.row_scales = bool(row_scales)
    return layer
