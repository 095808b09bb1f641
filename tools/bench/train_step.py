"""Fine-tuning step throughput (tokens/second = batch x length / seconds per step) for sentence classification:
forward, backward and an AdamW update, XLA-compiled and not, of our BertForSequenceClassification against
transformers 4.x TFBertForSequenceClassification (tf-keras) and KerasHub's BertTextClassifier, same random-weight
shape and batch; each in its own process, interleaved, medians, with peak memory.

Usage:
    python -m tools.bench.train_step                        # MiniLM shape, batch 32 x 128
    python -m tools.bench.train_step --batch 16             # the earlier 16 x 128 case
    python -m tools.bench.train_step --shapes tiny --rounds 1 --steps 2 --impls ours,kerashub-xla   # smoke run
"""

import argparse

from tools.bench.common import (
    SHAPES, add_run_arguments, bar_chart, emit, interleaved, machine, median_of, report_error, table, time_calls)

IMPLS = ("ours", "ours-xla", "hf-tf", "hf-tf-xla", "kerashub-xla")
MODULE = "tools.bench.train_step"


def worker(impl, shape, batch, length, steps):
    import numpy as np

    rng = np.random.RandomState(0)
    ids = rng.randint(1000, 30522, (batch, length)).astype("int32")
    mask, types = np.ones_like(ids), np.zeros_like(ids)
    labels = rng.randint(0, 2, (batch,)).astype("int32")
    c = SHAPES[shape]
    jit = impl.endswith("-xla")
    if impl.startswith("ours"):
        import keras

        import keras_bert_suite as kbs

        model = kbs.BertForSequenceClassification(kbs.BertConfig(vocab_size=30522, **c))
        model.compile(optimizer=keras.optimizers.AdamW(2e-5), jit_compile=jit)
        x = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels}
        step = lambda: model.train_on_batch(x)  # noqa: E731
    elif impl.startswith("hf-tf"):
        import tf_keras
        import transformers

        model = transformers.TFBertForSequenceClassification(transformers.BertConfig(vocab_size=30522, **c))
        model.compile(optimizer=tf_keras.optimizers.Adam(2e-5), jit_compile=jit)
        x = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types, "labels": labels}
        step = lambda: model.train_on_batch(x)  # noqa: E731
    elif impl == "kerashub-xla":
        import keras
        import keras_hub

        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=30522, num_layers=c["num_hidden_layers"], num_heads=c["num_attention_heads"],
            hidden_dim=c["hidden_size"], intermediate_dim=c["intermediate_size"], max_sequence_length=512,
        )
        model = keras_hub.models.BertTextClassifier(backbone, num_classes=2, preprocessor=None)
        model.compile(optimizer=keras.optimizers.AdamW(2e-5),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
        x = {"token_ids": ids, "padding_mask": mask, "segment_ids": types}
        step = lambda: model.train_on_batch(x, labels)  # noqa: E731
    else:
        raise ValueError(impl)
    seconds = time_calls(step, steps)
    emit({"impl": impl, "step_ms": round(1000 * seconds, 1), "tokens_per_s": batch * length / seconds})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--worker", nargs=5, metavar=("IMPL", "SHAPE", "BATCH", "LENGTH", "STEPS"))
    p.add_argument("--shapes", default="minilm")
    add_run_arguments(p, batch=32, length=128, rounds=3, steps=5)
    p.add_argument("--impls", default=",".join(IMPLS))
    p.add_argument("--chart", default="docs/bench_train_step.png")
    args = p.parse_args(argv)
    if args.worker:
        impl, shape, batch, length, steps = args.worker
        return worker(impl, shape, int(batch), int(length), int(steps))
    impls = args.impls.split(",")
    print(f"classification training step, {machine()}; batch {args.batch} x {args.length}, rounds {args.rounds}")
    rows, labels, values = [], [], []
    for shape in args.shapes.split(","):
        jobs = {i: (MODULE, [i, shape, args.batch, args.length, args.steps],
                    {"TF_USE_LEGACY_KERAS": "1"} if i.startswith("hf-tf") else {}) for i in impls}
        samples = interleaved(jobs, args.rounds)
        speed = {i: median_of(samples[i], "tokens_per_s") for i in impls}
        peers = [v for k, v in speed.items() if not k.startswith("ours") and v]
        best = max(peers) if peers else None
        for i in impls:
            report_error(i, samples[i])
            s, rss = speed[i], median_of(samples[i], "peak_rss_mb")
            rows.append([shape, i, f"{s:,.0f}" if s else "error", f"{s / best:.2f}x" if s and best else "-",
                         f"{rss:,.0f}" if rss else "-"])
            if s:
                labels.append(f"{shape} {i}")
                values.append(s)
    print(table(rows, ["shape", "implementation", "tokens/s", "vs best peer", "peak RSS MB"]))
    if args.chart:
        bar_chart(args.chart, labels, values, "Classification training step", "tokens / second")


if __name__ == "__main__":
    main()
