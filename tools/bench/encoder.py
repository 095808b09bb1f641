"""Encoder inference (sequences/second) and peak memory: ours (eager, tf.function, XLA) against KerasHub's
BertBackbone (XLA), transformers 4.x TFBertModel (XLA), transformers' PyTorch BertModel and onnxruntime on our
ONNX export, with the same random-weight shapes, each in its own process, interleaved, medians over rounds.

Usage:
    python -m tools.bench.encoder                       # MiniLM and BERT-base shapes at batch 8 x 128
    python -m tools.bench.encoder --grid                # batch 1/8/32 x length 32/128/512
    python -m tools.bench.encoder --shapes tiny --cases 2x16 --rounds 1 --repeats 2    # smoke run
"""

import argparse
import os

from tools.bench.common import (
    SHAPES, add_run_arguments, bar_chart, emit, interleaved, machine, median_of, report_error, table, time_calls)

IMPLS = ("ours-eager", "ours-function", "ours-xla", "kerashub-xla", "hf-tf-xla", "torch", "onnxruntime")
#: options measured on request (--impls): bfloat16 compute (float32 weights), in a tf.function or under XLA;
#: onnxruntime on the int8 export (`export_onnx(..., quantize="int8")`).
OPTIONS = ("ours-bf16", "ours-bf16-xla", "onnxruntime-int8")
MODULE = "tools.bench.encoder"


def _inputs(batch, length, vocab=30522, seed=0):
    import numpy as np

    rng = np.random.RandomState(seed)
    ids = rng.randint(1000, vocab, (batch, length)).astype("int32")
    return ids, np.ones_like(ids), np.zeros_like(ids)


def _hf_config(shape):
    return dict(vocab_size=30522, max_position_embeddings=512, **SHAPES[shape])


def _ours(impl, shape, ids, mask, types):
    """Ours (eager, tf.function, XLA; `-bf16`: mixed_bfloat16) or onnxruntime on our ONNX export."""
    import tensorflow as tf

    import keras

    import keras_bert_suite as kbs

    if "bf16" in impl:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")
    model = kbs.BertModel(kbs.BertConfig(**_hf_config(shape)))
    inputs = {"input_ids": tf.constant(ids), "attention_mask": tf.constant(mask), "token_type_ids": tf.constant(types)}
    if impl == "ours-eager":
        return lambda: model(inputs).last_hidden_state.numpy()
    if impl.startswith("onnxruntime"):
        import tempfile

        import onnxruntime as ort

        from keras_bert_suite.export import export_onnx

        path = export_onnx(model, os.path.join(tempfile.mkdtemp(), "bert.onnx"),
                           quantize="int8" if impl.endswith("int8") else None)
        options = ort.SessionOptions()
        options.intra_op_num_threads = os.cpu_count()
        session = ort.InferenceSession(path, options)
        feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        return lambda: session.run(None, feed)
    call = tf.function(lambda x: model(x).last_hidden_state, jit_compile=impl.endswith("xla"))
    return lambda: call(inputs).numpy()


def _kerashub_xla(shape, ids, mask, types):
    import keras_hub
    import tensorflow as tf

    c = SHAPES[shape]
    model = keras_hub.models.BertBackbone(
        vocabulary_size=30522, num_layers=c["num_hidden_layers"], num_heads=c["num_attention_heads"],
        hidden_dim=c["hidden_size"], intermediate_dim=c["intermediate_size"], max_sequence_length=512,
    )
    inputs = {"token_ids": tf.constant(ids), "padding_mask": tf.constant(mask), "segment_ids": tf.constant(types)}
    call = tf.function(lambda x: model(x)["sequence_output"], jit_compile=True)
    return lambda: call(inputs).numpy()


def _hf_tf_xla(shape, ids, mask, types):
    import tensorflow as tf
    import transformers

    model = transformers.TFBertModel(transformers.BertConfig(**_hf_config(shape)))
    inputs = {"input_ids": tf.constant(ids), "attention_mask": tf.constant(mask), "token_type_ids": tf.constant(types)}
    call = tf.function(lambda x: model(x, training=False).last_hidden_state, jit_compile=True)
    return lambda: call(inputs).numpy()


def _torch(shape, ids, mask, types):
    import torch
    import transformers

    torch.set_num_threads(os.cpu_count())
    model = transformers.BertModel(transformers.BertConfig(**_hf_config(shape))).eval()
    feed = {"input_ids": torch.tensor(ids, dtype=torch.long), "attention_mask": torch.tensor(mask),
            "token_type_ids": torch.tensor(types, dtype=torch.long)}

    def fn():
        with torch.no_grad():
            model(**feed)
    return fn


#: the peers' builders: (shape, ids, mask, types) -> a no-argument function running the encoder once
PEER_CALLS = {"kerashub-xla": _kerashub_xla, "hf-tf-xla": _hf_tf_xla, "torch": _torch}


def worker(impl, shape, batch, length, repeats):
    """Time `impl` on random ids of `batch` x `length` in this process and print its RESULT line."""
    ids, mask, types = _inputs(batch, length)
    if impl.startswith("ours") or impl.startswith("onnxruntime"):
        fn = _ours(impl, shape, ids, mask, types)
    elif impl in PEER_CALLS:
        fn = PEER_CALLS[impl](shape, ids, mask, types)
    else:
        raise ValueError(impl)
    seconds = time_calls(fn, repeats)
    emit({"impl": impl, "shape": shape, "batch": batch, "length": length, "seq_per_s": batch / seconds})

def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--worker", nargs=5, metavar=("IMPL", "SHAPE", "BATCH", "LENGTH", "REPEATS"))
    parser.add_argument("--shapes", default="minilm,base")
    parser.add_argument("--cases", default="8x128", help="comma-separated BATCHxLENGTH")
    parser.add_argument("--grid", action="store_true", help="batch 1/8/32 x length 32/128/512")
    parser.add_argument("--impls", default=",".join(IMPLS))
    add_run_arguments(parser, rounds=3, repeats=5)
    parser.add_argument("--chart", default="docs/bench_encoder.png")
    args = parser.parse_args(argv)
    if args.worker:
        impl, shape, batch, length, repeats = args.worker
        return worker(impl, shape, int(batch), int(length), int(repeats))
    cases = ["1x32", "1x128", "1x512", "8x32", "8x128", "8x512", "32x32", "32x128", "32x512"] if args.grid \
        else args.cases.split(",")
    impls = args.impls.split(",")
    print(f"encoder inference, {machine()}; rounds={args.rounds}, repeats={args.repeats}")
    rows, chart_labels, chart_values = [], [], []
    for shape in args.shapes.split(","):
        for case in cases:
            batch, length = map(int, case.split("x"))
            jobs = {impl: (MODULE, [impl, shape, batch, length, args.repeats],
                           {"TF_USE_LEGACY_KERAS": "1"} if impl == "hf-tf-xla" else {}) for impl in impls}
            samples = interleaved(jobs, args.rounds)
            speeds = {impl: median_of(samples[impl], "seq_per_s") for impl in impls}
            peers = [v for k, v in speeds.items() if k in ("kerashub-xla", "hf-tf-xla") and v]
            best_tf = max(peers) if peers else None
            for impl in impls:
                s = speeds[impl]
                report_error(impl, samples[impl])
                rss = median_of(samples[impl], "peak_rss_mb")
                ratio = f"{s / best_tf:.2f}x" if s and best_tf else "-"
                rows.append([shape, case, impl, f"{s:,.1f}" if s else "error", ratio, f"{rss:,.0f}" if rss else "-"])
                if s:
                    chart_labels.append(f"{shape} {case} {impl}")
                    chart_values.append(s)
    print(table(rows, ["shape", "batch x length", "implementation", "sequences/s", "vs best TF peer",
                       "peak RSS MB"]))
    if args.chart:
        bar_chart(args.chart, chart_labels, chart_values, "Encoder inference", "sequences / second")


if __name__ == "__main__":
    main()
