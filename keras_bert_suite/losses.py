"""The losses of the BERT heads, computed in float32 as transformers computes them.

Cross-entropy ignores label -100 (transformers' `ignore_index`) and averages over the labels that remain; when no
label remains the loss is 0 rather than transformers' NaN, so a batch with nothing to predict never poisons
training.

Example:
    >>> import numpy as np
    >>> logits = np.log(np.array([[[0.5, 0.5], [0.9, 0.1]]], "float32"))   # [batch 1, length 2, classes 2]
    >>> round(float(sparse_cross_entropy(logits, np.array([[0, -100]]))), 4)   # the second position ignored
    0.6931
    >>> round(float(sparse_cross_entropy(logits[:, 1], np.array([1]))), 4)     # sentence level: [batch, classes]
    2.3026
    >>> float(sparse_cross_entropy(logits, np.array([[-100, -100]])))         # nothing to predict: 0, not NaN
    0.0
"""

from keras import ops

IGNORE_INDEX = -100


def sparse_cross_entropy(logits, labels, ignore_index=IGNORE_INDEX):
    """Mean sparse cross-entropy over the labels that are not `ignore_index`, for token-level labels
    (logits [batch, length, classes], labels [batch, length]) and sentence-level ones (logits [batch, classes],
    labels [batch]) alike."""
    logits = ops.cast(logits, "float32")
    labels = ops.cast(labels, "int32")
    num_classes = ops.shape(logits)[-1]
    logits = ops.reshape(logits, (-1, num_classes))
    labels = ops.reshape(labels, (-1,))
    valid = ops.not_equal(labels, ignore_index)
    safe = ops.where(valid, labels, 0)
    log_probs = ops.log_softmax(logits, axis=-1)
    nll = -ops.take_along_axis(log_probs, safe[:, None], axis=-1)[:, 0]
    valid = ops.cast(valid, "float32")
    return ops.divide_no_nan(ops.sum(nll * valid), ops.sum(valid))


def causal_lm_loss(logits, labels):
    """Next-token loss: position t predicts label t + 1."""
    return sparse_cross_entropy(logits[:, :-1], labels[:, 1:])


def span_loss(start_logits, end_logits, start_positions, end_positions):
    """QA: positions outside the sequence are ignored; the mean of the start and end losses."""
    length = ops.shape(start_logits)[1]

    def one(logits, positions):
        positions = ops.clip(ops.reshape(ops.cast(positions, "int32"), (-1,)), 0, length)
        return sparse_cross_entropy(logits, positions, ignore_index=length)

    return (one(start_logits, start_positions) + one(end_logits, end_positions)) / 2.0


def sequence_classification_loss(logits, labels, problem_type):
    """Regression (MSE), single-label (cross-entropy) or multi-label (binary cross-entropy) loss."""
    logits = ops.cast(logits, "float32")
    if problem_type == "regression":
        labels = ops.cast(labels, "float32")
        if logits.shape[-1] == 1:
            return ops.mean(ops.square(ops.reshape(logits, (-1,)) - ops.reshape(labels, (-1,))))
        return ops.mean(ops.square(logits - labels))
    if problem_type == "multi_label_classification":
        labels = ops.cast(labels, "float32")
        return ops.mean(ops.binary_crossentropy(labels, logits, from_logits=True))
    return sparse_cross_entropy(logits, labels)


def infer_problem_type(num_labels, labels):
    """transformers' rule when `problem_type` is unset: 1 label -> regression; integer labels -> single-label."""
    if num_labels == 1:
        return "regression"
    dtype = str(labels.dtype)
    return "single_label_classification" if "int" in dtype else "multi_label_classification"
