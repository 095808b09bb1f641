"""Sharding the encoder over devices with `keras.distribution` (JAX backend): a `LayoutMap` for `ModelParallel`.

The map shards each transformer block Megatron-style over the mesh's model axis: the query, key, value and
intermediate kernels by their output columns, the attention-output and output kernels by their input rows, so
each block needs one all-reduce after attention and one after the feed-forward; the word embeddings are sharded
along the hidden size. Everything else (biases, layer norms, position and type embeddings, heads) is replicated.
Data parallelism needs no map: `keras.distribution.DataParallel()`.

Shapes: Dense kernels are [in, out] (query [hidden, hidden], intermediate [hidden, intermediate], output
[intermediate, hidden]); word embeddings [vocab, hidden]. The sharded sizes must divide by the model axis.

Example:
    >>> import keras
    >>> mesh = keras.distribution.DeviceMesh((1, 1), ["batch", "model"], keras.distribution.list_devices()[:1])
    >>> layout_map = bert_layout_map(mesh)
    >>> layout_map["bert/encoder/layer_0/attention/self/query/kernel"].axes
    (None, 'model')
    >>> layout_map["bert/encoder/layer_0/output_dense/kernel"].axes
    ('model', None)
"""

import keras

#: variable path patterns (Keras matches them against the whole `variable.path`) -> which kernel axis goes over
#: the model axis.
ENCODER_SHARDING = {
    r".*/word_embeddings/embeddings": 1,
    r".*/attention/self/(query|key|value)/kernel": 1,
    r".*/attention/dense/kernel": 0,
    r".*/intermediate_dense/kernel": 1,
    r".*/output_dense/kernel": 0,
}


def bert_layout_map(device_mesh, model_axis="model"):
    """A `keras.distribution.LayoutMap` sharding the encoder's kernels over `model_axis` (see the module docstring).

    Args:
        device_mesh: a `keras.distribution.DeviceMesh` with an axis named `model_axis` (and a batch axis for
            `ModelParallel(layout_map=..., batch_dim_name=...)`).
        model_axis: the mesh axis the kernels are split over.

    Returns:
        the LayoutMap; pass it to `keras.distribution.ModelParallel` before building the model.

    Raises:
        ValueError: the mesh has no axis `model_axis`.
    """
    if model_axis not in device_mesh.axis_names:
        raise ValueError(f"the device mesh has axes {list(device_mesh.axis_names)}, not {model_axis!r}")
    layout_map = keras.distribution.LayoutMap(device_mesh)
    for pattern, axis in ENCODER_SHARDING.items():
        layout_map[pattern] = (None, model_axis) if axis == 1 else (model_axis, None)
    return layout_map
