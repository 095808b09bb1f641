"""Run a model on a padded batch sorted by length, in chunks padded only to their own longest sequence.

Real requests mix short and long texts: padding a whole batch to its longest text makes most rows pay for
tokens they do not have (attention pays twice: its cost grows with the square of the length). Sorting the
rows by length and running them `chunk_size` at a time, each chunk cut to its longest row (rounded up to
`multiple`), spends compute on real tokens. The outputs are put back in the request's order and, for
per-token outputs, padded back to the batch's length, so callers see what one call on the whole batch gives.

With an XLA-compiled `run`, chunks also bound the shapes XLA compiles for, whatever the size of the request. A
request of n = k x chunk_size + r rows runs k full chunks, then the r rows left as chunks of the powers of two in r
(r = 7: 4, 2, 1 rows): chunk row counts are `chunk_sizes(chunk_size)` (8, 4, 2, 1 for 8), no row is padded, and
the shapes are those row counts by `max_length / multiple` lengths (half as many as with every count 1..8, and so
half the compilations a warmup has to replay).

Short rows cost little per row, and at [8, 32] the compiled model runs below its speed on bigger calls (its
matmuls are too small to keep the cores busy: docs/benchmarks.md, "Serving latency and load"). With a token budget
(`chunk_tokens`), a chunk of sorted rows takes the largest of `chunk_size` x 2, x 4, ... up to `MAX_CHUNK_ROWS`
rows whose padded length still fits (rows x padded length <= chunk_tokens), else `chunk_size` rows: short rows run
in few large calls, long rows keep chunks of `chunk_size`. The row counts a chunk of padded length L can have
are `chunk_rows(L, ...)`, whatever the batch.

Example:
    >>> def run(ids, mask, types):      # a stand-in for the model: per-token logits [rows, length, 3]
    ...     return {"logits": tf.one_hot(ids % 3, 3) * tf.cast(mask, tf.float32)[..., None]}
    >>> ids = tf.constant([[2, 5, 6, 3] + [0] * 28] * 9 + [[2] + [7] * 30 + [3]])   # 9 short rows, 1 long
    >>> mask, types = tf.cast(ids > 0, tf.int32), tf.zeros_like(ids)
    >>> out = run_by_length(run, ids, mask, types, chunk_size=8, multiple=16, token_keys=("logits",))
    >>> out["logits"].shape      # as run(ids, mask, types)["logits"]
    TensorShape([10, 32, 3])
    >>> bool(tf.reduce_all(out["logits"] == run(ids, mask, types)["logits"]))
    True
"""

import tensorflow as tf

MAX_CHUNK_ROWS = 64  # the most rows a chunk takes under a token budget


def chunk_sizes(chunk_size):
    """The row counts a chunk can have: `chunk_size`, then the powers of two below it, largest first.

    Example:
        >>> chunk_sizes(8), chunk_sizes(6)
        ([8, 4, 2, 1], [6, 4, 2, 1])
    """
    return [chunk_size] + [2 ** i for i in reversed(range(chunk_size.bit_length())) if 2 ** i < chunk_size]


def large_sizes(chunk_size, chunk_tokens):
    """The row counts above `chunk_size` a token budget can give: chunk_size x 2, x 4, ... up to
    `MAX_CHUNK_ROWS` (none without a budget), largest first.

    Example:
        >>> large_sizes(8, 1024), large_sizes(8, 0)
        ([64, 32, 16], [])
    """
    sizes = []
    size = chunk_size * 2
    while chunk_tokens and chunk_size and size <= MAX_CHUNK_ROWS:
        sizes.insert(0, size)
        size *= 2
    return sizes


def chunk_rows(padded_length, chunk_size, chunk_tokens):
    """The row counts of a chunk padded to `padded_length` tokens, largest first: the large sizes that fit the
    budget (rows x padded_length <= chunk_tokens), then `chunk_sizes(chunk_size)`. With XLA, the shapes a request
    can compile are (rows, padded length) for these rows, at each padded length.

    Example:
        >>> chunk_rows(32, 8, 1024), chunk_rows(128, 8, 1024)
        ([32, 16, 8, 4, 2, 1], [8, 4, 2, 1])
    """
    return [s for s in large_sizes(chunk_size, chunk_tokens) if s * padded_length <= chunk_tokens] + \
        chunk_sizes(chunk_size)


def _padded(longest, multiple, full):
    return tf.minimum((tf.maximum(longest, 1) + multiple - 1) // multiple * multiple, full)


def _chunk(inputs, lengths, start, size, multiple, full):
    end = start + size
    longest = tf.reduce_max(tf.concat([lengths[start:end], [1]], axis=0))
    cut = _padded(longest, multiple, full)
    return [t[start:end, :cut] for t in inputs], cut


def _next_size(lengths, start, n, chunk_size, chunk_tokens, multiple, full):
    """Rows of the chunk of sorted rows that starts at `start`: the largest of `large_sizes` whose rows fit the
    token budget, else `chunk_size`, else (fewer rows left) the largest power of two in what is left."""
    left = n - start
    powers = tf.constant(chunk_sizes(chunk_size)[1:] or [1], tf.int32)
    size = tf.where(left >= chunk_size, chunk_size, tf.reduce_max(tf.where(powers <= left, powers, 0)))
    for large in reversed(large_sizes(chunk_size, chunk_tokens)):  # smallest first: the largest that fits wins
        last = tf.clip_by_value(start + large - 1, 0, tf.maximum(n - 1, 0))
        fits = tf.logical_and(left >= large, large * _padded(lengths[last], multiple, full) <= chunk_tokens)
        size = tf.where(fits, large, size)
    return size


def _pad_tokens(out, token_keys, cut, full):
    padded = {}
    for key, value in out.items():
        if key in token_keys:
            pad = [[0, 0], [0, full - cut]] + [[0, 0]] * (value.shape.rank - 2)
            value = tf.pad(value, pad)
        padded[key] = value
    return padded


def _at_least_one_token(inputs):
    """(inputs padded to one column when they have none, their own length). An empty batch has length 0, and a
    model reads position 0 ([CLS]) for its pooled output: the padding column gives it a position to read."""
    inputs = [tf.convert_to_tensor(t) for t in inputs]
    full = tf.shape(inputs[0])[-1]
    pad = [[0, 0]] * (inputs[0].shape.rank - 1) + [[0, tf.maximum(1 - full, 0)]]
    return [tf.pad(t, pad) for t in inputs], full


def _cut_tokens(out, token_keys, full):
    return {k: (v[:, :full] if k in token_keys else v) for k, v in out.items()}


def run_whole(run, input_ids, attention_mask, token_type_ids, *, token_keys=()):
    """`run(input_ids, attention_mask, token_type_ids)` on the whole batch at once, any batch size (0 included).

    Args:
        run: the model function. input_ids, attention_mask, token_type_ids: int [..., length].
        token_keys: outputs with a sequence axis (axis 1), cut back to `length`.

    Example:
        >>> run = lambda ids, mask, types: {"logits": tf.zeros([tf.shape(ids)[0], 2])}   # a stand-in classifier
        >>> ids = tf.zeros([0, 16], tf.int32)
        >>> run_whole(run, ids, ids, ids)["logits"].shape     # (0, num_labels)
        TensorShape([0, 2])
    """
    inputs, full = _at_least_one_token([input_ids, attention_mask, token_type_ids])
    return _cut_tokens(run(*inputs), token_keys, full)


def run_by_length(run, input_ids, attention_mask, token_type_ids, *, chunk_size=8, multiple=16, token_keys=(),
                  chunk_tokens=0):
    """`run(input_ids, attention_mask, token_type_ids) -> dict of tensors`, computed chunk by chunk.

    Args:
        run: the model function; every output has the batch as axis 0, and the outputs named in
            `token_keys` have the sequence as axis 1.
        input_ids, attention_mask, token_type_ids: int [batch, length] (padding has attention_mask 0).
        chunk_size: rows per call of `run` (the last rows: fewer, see `chunk_sizes`).
        multiple: each chunk's length is rounded up to a multiple of this (fewer shapes to compile).
        token_keys: outputs with a sequence axis; they are padded back to `length` with zeros.
        chunk_tokens: token budget: a chunk takes up to `MAX_CHUNK_ROWS` rows (chunk_size x a power of two)
            while rows x its padded length <= chunk_tokens (`chunk_rows`); 0: always `chunk_size` rows.

    Returns:
        The dict `run` returns, rows in the input's order. An empty batch (0 rows) gives empty outputs.
    """
    (input_ids, attention_mask, token_type_ids), batch_length = _at_least_one_token(
        [input_ids, attention_mask, token_type_ids])
    inputs = (input_ids, attention_mask, token_type_ids)
    lengths = tf.reduce_sum(tf.cast(attention_mask, tf.int32), axis=1)
    n, full = tf.shape(input_ids)[0], tf.shape(input_ids)[1]
    one_chunk = tf.reduce_any(tf.equal(n, [0, *chunk_sizes(chunk_size)]))
    large = large_sizes(chunk_size, chunk_tokens)
    if large:  # n rows of a large size, all within the budget at the batch's longest row: one chunk too
        whole = n * _padded(tf.reduce_max(tf.concat([lengths, [1]], axis=0)), multiple, full) <= chunk_tokens
        one_chunk = tf.logical_or(one_chunk, tf.logical_and(tf.reduce_any(tf.equal(n, large)), whole))
    sorted_run = lambda: _sorted_chunks(run, inputs, lengths, chunk_size, multiple, token_keys,  # noqa: E731
                                        chunk_tokens)
    merged = tf.cond(one_chunk, lambda: _single_chunk(run, inputs, lengths, multiple, token_keys), sorted_run)
    return _cut_tokens(merged, token_keys, batch_length)


def _single_chunk(run, inputs, lengths, multiple, token_keys):
    """A batch that is one chunk anyway (0 rows, a row count of `chunk_sizes`: 1, 2, 4 or 8 for 8, or a large
    size within the token budget): one call in the request's order, cut to its longest row rounded up to
    `multiple`. The same call the loop would make (rows in another order), without the sort, the gathers, the loop
    and its arrays: the batch-1 path of a server."""
    full = tf.shape(inputs[0])[1]
    chunk, cut = _chunk(inputs, lengths, 0, tf.shape(inputs[0])[0], multiple, full)
    return _pad_tokens(run(*chunk), token_keys, cut, full)


def _sorted_chunks(run, inputs, lengths, chunk_size, multiple, token_keys, chunk_tokens):
    """Rows sorted by length, run chunk by chunk in a loop (chunk rows from `_next_size`), put back in the
    request's order (padded to the batch's length)."""
    input_ids, attention_mask, token_type_ids = inputs
    order = tf.argsort(lengths, stable=True)
    inputs = [tf.gather(t, order) for t in (input_ids, attention_mask, token_type_ids)]
    lengths = tf.gather(lengths, order)
    n, full = tf.shape(input_ids)[0], tf.shape(input_ids)[1]

    def step(start):
        size = _next_size(lengths, start, n, chunk_size, chunk_tokens, multiple, full)
        chunk, cut = _chunk(inputs, lengths, start, size, multiple, full)
        return start + size, _pad_tokens(run(*chunk), token_keys, cut, full)

    # The first chunk runs outside the loop: it gives the outputs' names and dtypes.
    start, out = step(tf.constant(0))
    arrays = {k: tf.TensorArray(v.dtype, size=1, dynamic_size=True, infer_shape=False).write(0, v)
              for k, v in out.items()}

    def body(i, start, arrays):
        start, result = step(start)
        return i + 1, start, {k: arrays[k].write(i, result[k]) for k in arrays}

    _, _, arrays = tf.while_loop(lambda i, start, _: start < n, body, (tf.constant(1), start, arrays))
    inverse = tf.math.invert_permutation(order)
    merged = {}
    for key, array in arrays.items():
        value = array.concat()
        value.set_shape([None] + out[key].shape[1:].as_list())
        merged[key] = tf.gather(value, inverse)
    return merged
