"""Where the time goes: one profile per subcommand, each timing the parts of one piece of work side by side in
one process (rounds interleaved, medians; `tools.bench.common.time_rounds`). The benchmarks beside this file
compare implementations; these profiles explain their figures (docs/benchmarks.md).

Subcommands:
    encoder          the encoder under XLA against its dense matmuls and its attention core run alone
    train-step       a fine-tuning step split into forward + loss, gradients, the AdamW update, dropout
    serving          the serving signature on short rows: tokenizer, encoder per chunk shape, chunk loop, rules
    tokenizer        each step of the in-graph tokenizer alone, beside the whole layer and the Rust tokenizer
    tokenizer-parts  a batch tokenized in 1, 2, 4 and 8 parts over batch sizes (graph.PART_BYTES, MAX_PARTS)
    matmul-floor     MiniLM's 36 encoder matmuls alone on a few tokens, per precision: batch-1 latency's floor

Usage:
    python -m tools.bench.profile encoder                       # MiniLM shape, batch 8 x 128, XLA, fp32
    python -m tools.bench.profile encoder --shape base --clock cpu --rounds 3 --repeats 2
    python -m tools.bench.profile train-step                    # MiniLM, batch 32 x 128, XLA, AdamW, cpu time
    python -m tools.bench.profile serving --batch 32 --length 32 --rounds 5 --repeats 3 --clock cpu
    python -m tools.bench.profile tokenizer                     # SST-2 dev, 1000 UDHR paragraphs, 1000 CLDR rows
    python -m tools.bench.profile tokenizer-parts               # batches of 16..1024 rows, 3 corpora
    python -m tools.bench.profile matmul-floor                  # 1, 4, 16 and 64 tokens
    python -m tools.bench.profile encoder --shape tiny --batch 2 --length 16 --rounds 1 --repeats 1   # smoke
"""

import argparse
import os

from tools.bench.common import (
    CLOCKS, SHAPES, SHARED, add_clock_argument, add_run_arguments, fetched, machine, minilm_folder, table,
    time_rounds)

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def print_shares(ms, names, whole, unit, share_header):
    """Print `ms[name]` for each name as a table row with its share of `ms[whole]`."""
    rows = [[name, f"{ms[name]:.1f}", f"{100 * ms[name] / ms[whole]:.0f}%"] for name in names]
    print(table(rows, ["part", unit, share_header]))


# --- encoder ---------------------------------------------------------------------------------------------------

def encoder_parts(shape, batch, length):
    """The whole encoder and its parts, each an XLA-compiled function on the same shapes.

    - `dense matmuls`: per layer the query, key, value, attention-output and two feed-forward products
      ([batch x length, hidden] by the weight matrices), chained as in the encoder;
    - `attention core`: per layer the scores, the float32 softmax with the mask and the weighted sum of values;
    - `attention products`: the same two batched products alone (no scale, mask or softmax).
    What remains of the whole (embeddings, bias adds, GELU, layer norms, residuals, reshapes) is computed by the
    caller. The dense matmuls run the same XLA CPU kernels whoever calls them: the share of the time left outside
    them bounds how much faster any fp32 XLA implementation of the same model can be than another.

    Returns:
        ({part name: function}, dense matmul FLOPs, attention product FLOPs) per call.
    """
    import numpy as np
    import tensorflow as tf

    import keras_bert_suite as kbs

    c = SHAPES[shape]
    hidden, inner, layers, heads = (c["hidden_size"], c["intermediate_size"], c["num_hidden_layers"],
                                    c["num_attention_heads"])
    model = kbs.BertModel(kbs.BertConfig(vocab_size=30522, max_position_embeddings=512, **c))
    rng = np.random.RandomState(0)
    ids = tf.constant(rng.randint(1000, 30522, (batch, length)).astype("int32"))
    mask = tf.ones_like(ids)
    x = tf.constant(rng.randn(batch * length, hidden).astype("float32"))
    weights = [[tf.constant(rng.randn(*s).astype("float32") * 0.02)
                for s in ([hidden, hidden],) * 4 + ([hidden, inner], [inner, hidden])] for _ in range(layers)]
    d = hidden // heads
    qkv = [tf.constant(rng.randn(batch, heads, length, d).astype("float32")) for _ in range(3)]
    bias = tf.zeros([batch, 1, 1, length])

    @tf.function(jit_compile=True)
    def encoder():
        return model({"input_ids": ids, "attention_mask": mask}).last_hidden_state

    @tf.function(jit_compile=True)
    def matmuls():
        h = x
        for wq, wk, wv, wo, w1, w2 in weights:
            q, k, v = h @ wq, h @ wk, h @ wv
            h = (q + k + v) @ wo
            h = (h @ w1) @ w2
        return h

    @tf.function(jit_compile=True)
    def products():
        q, k, v = qkv
        for _ in range(layers):
            q = tf.einsum("bnqk,bnkd->bnqd", tf.einsum("bnqd,bnkd->bnqk", q, k), v)
        return q

    @tf.function(jit_compile=True)
    def attention():
        q, k, v = qkv
        for _ in range(layers):
            scores = tf.einsum("bnqd,bnkd->bnqk", q, k) / np.sqrt(d) + bias
            q = tf.einsum("bnqk,bnkd->bnqd", tf.nn.softmax(scores, axis=-1), v)
        return q

    flops = 2 * batch * length * layers * (4 * hidden * hidden + 2 * hidden * inner)
    attention_flops = 2 * 2 * batch * length * length * hidden * layers
    parts = {"whole encoder": encoder, "dense matmuls": matmuls, "attention core": attention,
             "attention products": products}
    return parts, flops, attention_flops


def run_encoder(args):
    parts, flops, attention_flops = encoder_parts(args.shape, args.batch, args.length)
    seconds = time_rounds({name: fetched(fn) for name, fn in parts.items()}, args.rounds, args.repeats,
                          CLOCKS[args.clock])  # the warmup call compiles
    ms = {name: 1000 * s for name, s in seconds.items()}
    whole = ms["whole encoder"]
    ms["everything else"] = max(whole - ms["dense matmuls"] - ms["attention core"], 0.0)
    ms["scale, mask, softmax"] = max(ms["attention core"] - ms["attention products"], 0.0)
    print(f"machine: {machine()}; {args.shape}, batch {args.batch} x {args.length}, XLA, fp32; "
          f"median of {args.rounds} rounds x {args.repeats} calls; {args.clock} time")
    print_shares(ms, ("whole encoder", "dense matmuls", "attention core", "attention products",
                      "scale, mask, softmax", "everything else"), "whole encoder", f"{args.clock} ms per call",
                 "share of the whole")
    print(f"dense matmuls: {flops / ms['dense matmuls'] / 1e6:.1f} GFLOP/s; attention products: "
          f"{attention_flops / ms['attention products'] / 1e6:.1f} GFLOP/s (per {args.clock} second)")
    print(f"whole / dense matmuls: {whole / ms['dense matmuls']:.3f}x; whole / (dense matmuls + attention "
          f"products): {whole / (ms['dense matmuls'] + ms['attention products']):.3f}x")


# --- train-step ------------------------------------------------------------------------------------------------

def train_step_parts(shape, batch, length, dropout):
    """Our BertForSequenceClassification's training step in parts, each XLA-compiled on the same batch; each
    part includes the ones before it: `forward + loss` (training mode), `+ gradients`, `+ AdamW update` (the whole
    step, as `fit` runs it); with dropout on, also Keras's own `train_on_batch` with `jit_compile=True`.

    Returns:
        {part name: function}; the names end in ", no dropout" when `dropout` is False (both rates 0).
    """
    import keras
    import numpy as np
    import tensorflow as tf

    import keras_bert_suite as kbs

    rates = {} if dropout else dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    keras.utils.set_random_seed(0)
    model = kbs.BertForSequenceClassification(kbs.BertConfig(vocab_size=30522, **SHAPES[shape], **rates))
    rng = np.random.RandomState(0)
    ids = rng.randint(1000, 30522, (batch, length)).astype("int32")
    x = {"input_ids": tf.constant(ids), "attention_mask": tf.ones_like(ids), "token_type_ids": tf.zeros_like(ids),
         "labels": tf.constant(rng.randint(0, 2, (batch,)).astype("int32"))}
    model(x)
    optimizer = keras.optimizers.AdamW(2e-5)
    optimizer.build(model.trainable_variables)

    def loss_and_grads():
        with tf.GradientTape() as tape:
            loss = model(x, training=True).loss
        return loss, tape.gradient(loss, model.trainable_variables)

    @tf.function(jit_compile=True)
    def forward():
        return model(x, training=True).loss

    @tf.function(jit_compile=True)
    def gradients():
        loss, grads = loss_and_grads()
        return loss, tf.add_n([tf.reduce_sum(g) for g in grads])

    @tf.function(jit_compile=True)
    def full_step():
        loss, grads = loss_and_grads()
        optimizer.apply(grads, model.trainable_variables)
        return loss

    suffix = "" if dropout else ", no dropout"
    steps = {f"forward + loss{suffix}": forward, f"+ gradients{suffix}": gradients,
             f"+ AdamW update (whole step){suffix}": full_step}
    if dropout:
        keras_model = kbs.BertForSequenceClassification(kbs.BertConfig(vocab_size=30522, **SHAPES[shape]))
        keras_model.compile(optimizer=keras.optimizers.AdamW(2e-5), jit_compile=True)
        arrays = {k: v.numpy() for k, v in x.items()}
        steps["Keras train_on_batch (jit_compile=True)"] = lambda: keras_model.train_on_batch(arrays)
    return steps


def run_train_step(args):
    fns = {**train_step_parts(args.shape, args.batch, args.length, True),
           **train_step_parts(args.shape, args.batch, args.length, False)}
    seconds = time_rounds({name: fetched(fn) for name, fn in fns.items()}, args.rounds, args.steps,
                          CLOCKS[args.clock])  # the warmup call compiles
    ms = {name: 1000 * s for name, s in seconds.items()}
    whole = ms["+ AdamW update (whole step)"]
    rows = [[name, f"{ms[name]:.0f}", f"{100 * ms[name] / whole:.0f}%"] for name in fns]
    print(f"machine: {machine()}; {args.shape}, batch {args.batch} x {args.length}, XLA, fp32, AdamW; "
          f"median of {args.rounds} rounds x {args.steps} steps; {args.clock} time")
    print(table(rows, ["part", f"{args.clock} ms per step", "vs the whole step"]))
    nodrop = ms["+ AdamW update (whole step), no dropout"]
    print(f"backward: {ms['+ gradients'] - ms['forward + loss']:.0f} ms; AdamW update: "
          f"{whole - ms['+ gradients']:.0f} ms; dropout: {whole - nodrop:.0f} ms "
          f"({100 * (whole - nodrop) / whole:.0f}% of the step)")


# --- serving ---------------------------------------------------------------------------------------------------

#: chunk rules compared by `serving`: ExportOptions keyword arguments
RULES = {
    "chunks of 8 (chunk_size=8, chunk_tokens=0)": {"chunk_size": 8, "chunk_tokens": 0},
    "token budget (defaults)": {},
    "whole batch (chunk_size=0)": {"chunk_size": 0},
}


def serving_parts(batch, length, rules, peers=()):
    """The serving signature's parts on a batch of short rows, on the real MiniLM checkpoint (sequence
    classification, `max_length` = the row length), without exporting: the signature is the function
    `export_saved_model` would save. Rows are WikiText-2 text of exactly `length` tokens (sweep.exact_length_texts).

    Parts (B = batch rows, L = length tokens): `tokenizer` (the in-graph tokenizer on B strings), `encoder [r, L]
    x k` (the XLA-compiled model function called k times on r rows, r = 8, 16, ..., B), `loop machinery`
    (`run_by_length` with a model that does nothing), `signature <rule>` (strings in, label out, per chunk rule).

    Args:
        rules: {name: ExportOptions keyword arguments} for the whole-signature parts.
        peers: names of `tools.bench.serving.IMPLS` peers timed on the same rows in this process.

    Returns:
        {part name: no-argument function}, every function already called twice (compiled).
    """
    import tensorflow as tf

    import keras_bert_suite as kbs
    from keras_bert_suite.export.length_sorted import run_by_length
    from keras_bert_suite.export.signatures import ExportOptions, _Builder, build_signatures
    from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer
    from tools.bench import serving
    from tools.bench.sweep import exact_length_texts

    folder = minilm_folder()
    tokenizer = BertTokenizer.from_pretrained(folder)
    model = kbs.BertForSequenceClassification.from_pretrained(folder, num_labels=2)
    rows_text = exact_length_texts(tokenizer, length, batch)
    texts = tf.constant(rows_text)
    tokenizer = TFBertTokenizer.coerce(tokenizer)
    parts = {}
    for name, options in rules.items():
        functions, _ = build_signatures(model, tokenizer, "sequence_classification",
                                        ExportOptions(max_length=length, **options))
        signature = dict(functions)["serving_default"]
        parts[f"signature {name}"] = lambda s=signature: s(texts)["label"].numpy()

    builder = _Builder(model, tokenizer, ExportOptions(max_length=length))
    tokenize = tf.function(lambda t: builder.tokenizer(t)["input_ids"])
    parts["tokenizer"] = lambda: tokenize(texts).numpy()
    enc = builder.tokenizer(texts)
    ids, mask, types = (enc[k] for k in ("input_ids", "attention_mask", "token_type_ids"))
    rows = 8
    while rows <= batch:
        calls = batch // rows
        pieces = [(ids[i * rows:(i + 1) * rows], mask[i * rows:(i + 1) * rows], types[i * rows:(i + 1) * rows])
                  for i in range(calls)]

        def encoder(pieces=pieces):
            for p in pieces:
                builder.run(*p)["logits"].numpy()
        parts[f"encoder [{rows}, {ids.shape[1]}] x {calls}"] = encoder
        rows *= 2

    def nothing(i, m, t):
        return {"logits": tf.cast(i[:, :2], tf.float32)}

    machinery = tf.function(lambda i, m, t: run_by_length(nothing, i, m, t, chunk_size=8, multiple=8)["logits"])
    parts["loop machinery (chunks of 8, no model)"] = lambda: machinery(ids, mask, types).numpy()
    for peer in peers:
        parts[f"peer {peer}"] = serving.load(peer, max_length=length)([rows_text])
    for fn in parts.values():
        fn()
        fn()
    return parts


def run_serving(args):
    parts = serving_parts(args.batch, args.length, RULES)  # each already called twice (compiled)
    seconds = time_rounds(parts, args.rounds, args.repeats, CLOCKS[args.clock], warmup=0)
    print(f"batch {args.batch} x {args.length} tokens, {args.clock} ms per call, median of {args.rounds} rounds")
    print(table([(name, f"{1000 * s:.1f}") for name, s in seconds.items()], ["part", f"{args.clock} ms"]))


# --- tokenizer and tokenizer-parts -----------------------------------------------------------------------------

def load_rows(n_english, n_multilingual, n_cldr=0):
    """{'english': SST-2 dev sentences, 'multilingual': UDHR paragraphs (72 languages, evenly sampled),
    'cldr': rows of localized CLDR names (tools/bench/cldr_text.py, evenly sampled; left out when 0)}."""
    with open(os.path.join(SHARED, "sst2", "dev.tsv"), encoding="utf-8") as f:
        next(f)
        english = [line.split("\t")[0] for line in f][:n_english]
    with open(os.path.join(SHARED, "multilingual", "udhr_paragraphs.tsv"), encoding="utf-8") as f:
        next(f)
        paragraphs = [line.rstrip("\n").split("\t")[2] for line in f if line.count("\t") >= 2]
    step = max(1, len(paragraphs) // max(1, n_multilingual))
    rows = {"english": english, "multilingual": paragraphs[::step][:n_multilingual]}
    if n_cldr:
        from tools.bench.cldr_text import cldr_rows  # needs babel (the bench extra)

        rows["cldr"] = cldr_rows(n_cldr)
    return rows


def _as_tuple(out):
    return out if type(out) is tuple else (out,)  # a Chars or Words (named tuples) is one output


def tokenizer_steps(layer):
    """[(name, function of the batch size and the previous step's outputs)]: the tokenizer layer's work, step by
    step (tokenizers/graph.py); each returns the batch size and its outputs.

    Steps: `UTF-8 decode` (with the invalid-UTF-8 check), `special-token search`, then either `stage A table`,
    `NFC`, `classes + whole words`, `stage B table` or, where the tokenizer fuses the two tables (uncased BERT),
    `stages A+B table, classes`; then `word split`, `FastWordpiece`, `offsets` (piece byte offsets back to
    characters, rows of ids) and `packing` (truncation, [CLS]/[SEP], padding; tokenizers/pack.py).
    """
    from keras_bert_suite.tokenizers.pack import pack

    g = layer.graph_tokenizer

    def passing(fn):
        return lambda row_splits, *inputs: (row_splits, *_as_tuple(fn(*inputs)))

    def offsets(row_splits, words, ids, piece_start, piece_end):
        starts, ends = g.piece_offsets(words, piece_start, piece_end)
        rows = g.rows(words, ids, row_splits)
        return row_splits, rows, rows.with_flat_values(starts), rows.with_flat_values(ends)

    def decode(n, texts):  # from here on the first value passed along is the texts' row splits, not their number
        chars, row_splits = g.decode(texts)
        return row_splits, chars

    def packing(n, ids, starts, ends):
        return pack(ids, starts=starts, ends=ends, cls_id=layer.cls_token_id, sep_id=layer.sep_token_id,
                    pad_id=layer.pad_token_id, truncation=layer.truncation, max_length=layer.max_length,
                    padding=layer.padding)

    return [
        ("UTF-8 decode", decode),
        ("special-token search", passing(g.mark_specials)),
        *(
            [("stages A+B table, classes", passing(g.apply_fused))] if g.fused else [
                ("stage A table", passing(g.apply_stage_a)),
                ("NFC", passing(g.compose_nfc)),
                ("classes + whole words", passing(lambda chars: (chars, *g.classify(chars)))),
                ("stage B table", passing(g.apply_stage_b)),
            ]
        ),
        ("word split", passing(g.split_words)),
        ("FastWordpiece", passing(lambda words: (words, *g.apply_wordpiece(words)))),
        ("offsets", offsets),
        ("packing", packing),
    ]


def tokenizer_calls(layer, rust, rows, batch):
    """{name: function tokenizing all `rows` in batches}: every step of `tokenizer_steps` as its own
    `tf.function` on the previous step's outputs (computed here once, so a step's time is its own), `call floor`
    (a step doing nothing: the cost of one call, paid by every step alone but once by the whole layer), the whole
    layer in one `tf.function`, and transformers' Rust-backed BertTokenizerFast (offsets and padding too)."""
    import tensorflow as tf

    batches = [rows[i : i + batch] for i in range(0, len(rows), batch)]
    texts = [tf.constant([s.encode("utf-8") for s in b]) for b in batches]
    calls = {}
    inputs = [(tf.size(t, out_type=tf.int64), t) for t in texts]
    for name, fn in tokenizer_steps(layer):
        traced = tf.function(fn, autograph=False, reduce_retracing=True)
        step_inputs = inputs
        inputs = [_as_tuple(traced(*x)) for x in step_inputs]  # also traces
        if name == "UTF-8 decode":
            decoded = inputs
        calls[name] = lambda traced=traced, step_inputs=step_inputs: [traced(*x) for x in step_inputs]
    floor = tf.function(lambda n, chars: (n, chars), autograph=False, reduce_retracing=True)
    decoded = [floor(*x) for x in decoded]
    calls["call floor"] = lambda: [floor(*x) for x in decoded]
    whole = tf.function(layer, input_signature=[tf.TensorSpec([None], tf.string)])
    calls["whole tokenizer layer"] = lambda: [whole(t) for t in texts]
    calls["Rust BertTokenizerFast"] = lambda: [
        rust(b, padding=True, truncation=True, max_length=layer.max_length, return_offsets_mapping=True)
        for b in batches
    ]
    return calls


def run_tokenizer(args):
    import transformers

    from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer

    folder, label = (args.model, args.model) if args.model else (minilm_folder(), "MiniLM uncased")
    python = BertTokenizer.from_pretrained(folder)
    layer = TFBertTokenizer.from_tokenizer(python, max_length=args.max_length, return_offsets_mapping=True)
    rust = transformers.BertTokenizerFast.from_pretrained(folder)
    print(f"machine: {machine()}; {label} vocabulary, batch "
          f"{args.batch}, max_length {args.max_length}, offsets on; median of {args.rounds} rounds x "
          f"{args.repeats} passes")
    step_names = [name for name, _ in tokenizer_steps(layer)]
    for corpus, rows in load_rows(args.rows, args.udhr_rows, args.cldr_rows).items():
        if not rows:
            continue
        seconds = time_rounds(tokenizer_calls(layer, rust, rows, args.batch), args.rounds, args.repeats)
        per_1k = {name: 1e6 * s / len(rows) for name, s in seconds.items()}
        total = sum(per_1k[name] for name in step_names)
        lines = [[name, f"{per_1k[name]:.1f}", f"{100 * per_1k[name] / total:.0f}%"] for name in step_names]
        lines.append(["sum of the steps", f"{total:.1f}", "100%"])
        rust_ms = per_1k["Rust BertTokenizerFast"]
        lines.append(["call floor (a step doing nothing)", f"{per_1k['call floor']:.1f}",
                      f"{100 * per_1k['call floor'] / total:.0f}% per step"])
        for name in ("whole tokenizer layer", "Rust BertTokenizerFast"):
            lines.append([name, f"{per_1k[name]:.1f}", f"{per_1k[name] / rust_ms:.1f}x Rust"])
        nbytes = sum(len(s.encode("utf-8")) for s in rows)
        print(f"\n[{corpus}] {len(rows)} rows, {nbytes / 1e3:.0f} kB UTF-8")
        print(table(lines, ["step", "ms per 1k rows", "share of the steps"]))


#: the part counts `tokenizer-parts` forces
PARTS = (1, 2, 4, 8)


def forced_parts(g, k):
    """A `tf.function` from strings to padded ids tokenizing its batch in `k` parts (None: the default
    settings' choice), traced here with `graph.PART_BYTES` and `graph.MAX_PARTS` patched."""
    import tensorflow as tf

    from keras_bert_suite.tokenizers import graph

    fn = tf.function(lambda texts: g.tokenize(texts, with_offsets=False)[0].to_tensor(),
                     input_signature=[tf.TensorSpec([None], tf.string)], autograph=False)
    saved = graph.PART_BYTES, graph.MAX_PARTS
    if k is not None:
        graph.PART_BYTES, graph.MAX_PARTS = 1, k  # every batch of at least k bytes: k parts
    try:
        fn.get_concrete_function()
    finally:
        graph.PART_BYTES, graph.MAX_PARTS = saved
    return fn


def run_tokenizer_parts(args):
    import tensorflow as tf

    from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer

    g = TFBertTokenizer.from_tokenizer(BertTokenizer.from_pretrained(minilm_folder())).graph_tokenizer
    fns = {k: forced_parts(g, k) for k in (*PARTS, None)}
    print(f"machine: {machine()}; MiniLM uncased vocabulary, ids only; median of {args.rounds} rounds of "
          f"{args.passes} passes ({args.clock} clock); speed-up over 1 part")
    lines = []
    corpora = load_rows(args.rows, args.rows, args.rows)
    for batch in (int(b) for b in args.batches.split(",")):
        for corpus, rows in corpora.items():
            texts = [tf.constant([s.encode("utf-8") for s in rows[i : i + batch]])
                     for i in range(0, len(rows) - batch + 1, batch)]
            if not texts:
                continue
            kb = sum(len(s.encode("utf-8")) for s in rows[: len(texts) * batch]) / len(texts) / 1e3
            seconds = time_rounds({k: (lambda f=f: [f(t).numpy() for t in texts]) for k, f in fns.items()},
                                  rounds=args.rounds, repeats=args.passes, clock=CLOCKS[args.clock])
            lines.append([str(batch), corpus, f"{kb:.0f}"] + [f"{seconds[1] / seconds[k]:.2f}x" for k in fns])
    print(table(lines, ["rows", "corpus", "kB per batch"] + [f"{k} part{'s' * (k > 1)}" for k in PARTS]
                + ["default"]))


# --- matmul-floor ----------------------------------------------------------------------------------------------

def matmul_chains(seed=0):
    """MiniLM's encoder matmul chain (the 36 dense products, with the residual adds and GELU) per precision:
    float32 under XLA (what our SavedModel and transformers' TF XLA run) and in graph mode (oneDNN), bfloat16
    weights in graph mode and under XLA, and float32 weights cast to bfloat16 per call (Keras' mixed_bfloat16).

    At batch 1 every call reads all encoder weights (10.6 M floats, 42 MB in float32, more than a 32 MB L3), so
    the time is set by reading them, not by the FLOPs: this chain is what any implementation pays.

    Returns:
        {variant: (fn, input dtype, weight bytes)}: `fn(x)` runs the chain on tokens x [rows, hidden].
    """
    import numpy as np
    import tensorflow as tf

    shape = SHAPES["minilm"]
    h, inner, layers = shape["hidden_size"], shape["intermediate_size"], shape["num_hidden_layers"]
    rng = np.random.default_rng(seed)
    kernels = [[rng.normal(0, 0.05, s).astype("float32") for s in [(h, h)] * 4 + [(h, inner), (inner, h)]]
               for _ in range(layers)]
    w32 = [[tf.constant(k) for k in layer] for layer in kernels]
    w16 = [[tf.cast(k, tf.bfloat16) for k in layer] for layer in w32]

    def chain(x, weights, cast=None):
        for layer in weights:
            q, k, v, o, up, down = [w if cast is None else tf.cast(w, cast) for w in layer]
            a = tf.matmul(tf.matmul(x, q) + tf.matmul(x, k) + tf.matmul(x, v), o)
            x = x + tf.matmul(tf.nn.gelu(tf.matmul(a, up)), down)
        return x

    variants = {
        "float32, XLA": (w32, tf.float32, None, True),
        "float32, graph": (w32, tf.float32, None, False),
        "bfloat16 weights, graph": (w16, tf.bfloat16, None, False),
        "bfloat16 weights, XLA": (w16, tf.bfloat16, None, True),
        "float32 weights cast per call, graph": (w32, tf.bfloat16, tf.bfloat16, False),
    }
    out = {}
    for name, (weights, dtype, cast, xla) in variants.items():
        fn = tf.function(lambda x, weights=weights, cast=cast: chain(x, weights, cast), jit_compile=xla)
        nbytes = sum(w.shape.num_elements() * w.dtype.size for layer in weights for w in layer)
        out[name] = (fn, dtype, nbytes)
    return out


def run_matmul_floor(args):
    import numpy as np
    import tensorflow as tf

    variants = matmul_chains()
    print(f"machine: {machine()}; MiniLM encoder matmuls (36 products, 42 MB of float32 weights); median of "
          f"{args.rounds} rounds x {args.repeats} calls ({args.clock} clock)")
    lines = []
    for rows in (int(r) for r in args.rows.split(",")):
        x = tf.constant(np.random.default_rng(rows).normal(0, 1, (rows, SHAPES["minilm"]["hidden_size"])), tf.float32)
        fns = {name: (lambda fn=fn, x=tf.cast(x, dtype): fn(x).numpy()) for name, (fn, dtype, _) in variants.items()}
        seconds = time_rounds(fns, rounds=args.rounds, repeats=args.repeats, clock=CLOCKS[args.clock], warmup=3)
        base = seconds["float32, XLA"]
        for name, s in seconds.items():
            gb_per_s = variants[name][2] / s / 1e9
            lines.append([str(rows), name, f"{1e3 * s:.2f}", f"{base / s:.2f}x", f"{gb_per_s:.1f}"])
    print(table(lines, ["tokens", "variant", "ms per call", "vs float32 XLA", "weight GB/s"]))


# --- command line ----------------------------------------------------------------------------------------------

def build_parser():
    """The `profile` command: one subparser per profile, each with its defaults; `args.run` runs it."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = parser.add_subparsers(dest="profile", required=True)

    p = sub.add_parser("encoder", help="the encoder under XLA against its matmuls and attention core alone")
    add_run_arguments(p, shape="minilm", batch=8, length=128, rounds=5, repeats=5)
    add_clock_argument(p, default="wall")
    p.set_defaults(run=run_encoder)

    p = sub.add_parser("train-step", help="a fine-tuning step: forward, gradients, AdamW update, dropout")
    add_run_arguments(p, shape="minilm", batch=32, length=128, rounds=2, steps=1)
    add_clock_argument(p, default="cpu")
    p.set_defaults(run=run_train_step)

    p = sub.add_parser("serving", help="the serving signature on short rows, part by part, under chunk rules")
    add_run_arguments(p, batch=32, length=32, rounds=5, repeats=3)
    add_clock_argument(p, default="cpu")
    p.set_defaults(run=run_serving)

    p = sub.add_parser("tokenizer", help="each step of the in-graph tokenizer alone, the layer, Rust")
    p.add_argument("--rows", type=int, default=872, help="SST-2 dev sentences (all 872 by default)")
    p.add_argument("--udhr-rows", type=int, default=1000, help="UDHR paragraphs, sampled across languages")
    p.add_argument("--cldr-rows", type=int, default=1000, help="rows of CLDR names (0: none; needs babel)")
    add_run_arguments(p, batch=1000, rounds=5, repeats=2)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--model", default=None, help="folder with vocab.txt (default: the MiniLM uncased one)")
    p.set_defaults(run=run_tokenizer)

    p = sub.add_parser("tokenizer-parts", help="a batch tokenized in 1, 2, 4 and 8 parts over batch sizes")
    p.add_argument("--batches", default="16,32,64,128,256,1024", help="comma-separated batch sizes (rows)")
    p.add_argument("--rows", type=int, default=2048, help="rows per corpus (SST-2 dev has 872)")
    add_run_arguments(p, rounds=5)
    p.add_argument("--passes", type=int, default=3, help="back-to-back passes per round")
    add_clock_argument(p, "wall")
    p.set_defaults(run=run_tokenizer_parts)

    p = sub.add_parser("matmul-floor", help="MiniLM's encoder matmuls alone on a few tokens, per precision")
    p.add_argument("--rows", default="1,4,16,64", help="comma-separated token counts")
    add_run_arguments(p, rounds=5, repeats=100)
    add_clock_argument(p, "wall")
    p.set_defaults(run=run_matmul_floor)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    args.run(args)


if __name__ == "__main__":
    main()
