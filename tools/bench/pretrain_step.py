"""Pretraining step throughput (tokens/second: batch x length / seconds per step): a full MLM + NSP training step
(forward, backward, AdamW update, XLA) of our BertForPreTraining against transformers 4.x TFBertForPreTraining
(tf-keras), and KerasHub's BertMaskedLM (MLM only) when keras-hub can be imported. Same random-weight shapes and
the same masked batch (`--max-predictions` positions per sequence); each measurement in its own process,
peers interleaved over rounds, medians reported.

`ours-xla` feeds `masked_lm_positions` (the pipeline's `masked_lm_positions=True`: MLM logits at the predicted
positions only, as Google's BERT and KerasHub compute them); `ours-xla-every-position` uses transformers'
layout (logits at every position, labels -100 where not predicted), the layout transformers TF has to use.

KerasHub is imported from `--keras-hub-path` (a folder made with `pip install --no-deps --target DIR keras-hub`,
which leaves tensorflow and keras as they are) or from the environment.

Usage:
    python -m tools.bench.pretrain_step                                   # MiniLM shape, batch 8 x 128
    python -m tools.bench.pretrain_step --shapes tiny --rounds 1 --steps 2   # smoke run
"""

import argparse
import os
import sys

from tools.bench.common import (
    SHAPES, add_run_arguments, bar_chart, emit, interleaved, machine, median_of, table, time_calls)

PEERS = ("ours-xla", "ours-xla-every-position", "hf-tf-xla", "kerashub-xla")


def _batch(batch, length, max_predictions, vocab=30522, seed=0):
    import numpy as np

    rng = np.random.RandomState(seed)
    ids = rng.randint(1000, vocab, (batch, length)).astype("int32")
    types = np.zeros_like(ids)
    types[:, length // 2:] = 1
    positions = np.sort(np.stack([rng.choice(np.arange(1, length), max_predictions, replace=False)
                                  for _ in range(batch)]), axis=1).astype("int32")
    labels = np.full_like(ids, -100)
    np.put_along_axis(labels, positions, np.take_along_axis(ids, positions, 1), 1)
    masked = ids.copy()
    np.put_along_axis(masked, positions, 103, 1)
    nsp = rng.randint(0, 2, (batch,)).astype("int32")
    return dict(ids=masked, mask=np.ones_like(ids), types=types, labels=labels, nsp=nsp, positions=positions,
                targets=np.take_along_axis(ids, positions, 1))


def worker(impl, shape, batch, length, max_predictions, steps):
    b = _batch(batch, length, max_predictions)
    c = SHAPES[shape]
    if impl.startswith("ours-xla"):
        import keras

        import keras_bert_suite as kbs
        from keras_bert_suite import pretraining as pt

        model = kbs.BertForPreTraining(kbs.BertConfig(vocab_size=30522, **c))
        pt.compile_for_pretraining(model, keras.optimizers.AdamW(1e-4), jit_compile=True)
        x = {"input_ids": b["ids"], "attention_mask": b["mask"], "token_type_ids": b["types"]}
        labels = b["labels"]
        if impl == "ours-xla":
            x["masked_lm_positions"], labels = b["positions"], b["targets"]
        step = lambda: model.train_on_batch(x, (labels, b["nsp"]))  # noqa: E731
    elif impl == "hf-tf-xla":
        import tf_keras
        import transformers

        model = transformers.TFBertForPreTraining(transformers.BertConfig(vocab_size=30522, **c))
        model.compile(optimizer=tf_keras.optimizers.AdamW(1e-4), jit_compile=True)
        x = {"input_ids": b["ids"], "attention_mask": b["mask"], "token_type_ids": b["types"],
             "labels": b["labels"], "next_sentence_label": b["nsp"]}
        step = lambda: model.train_on_batch(x)  # noqa: E731
    elif impl == "kerashub-xla":
        extra = os.environ.get("KBS_KERAS_HUB_PATH")
        if extra:
            sys.path.insert(0, extra)
        import keras
        import keras_hub

        backbone = keras_hub.models.BertBackbone(
            vocabulary_size=30522, num_layers=c["num_hidden_layers"], num_heads=c["num_attention_heads"],
            hidden_dim=c["hidden_size"], intermediate_dim=c["intermediate_size"], max_sequence_length=512)
        model = keras_hub.models.BertMaskedLM(backbone, preprocessor=None)
        model.compile(optimizer=keras.optimizers.AdamW(1e-4),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), jit_compile=True)
        x = {"token_ids": b["ids"], "padding_mask": b["mask"], "segment_ids": b["types"],
             "mask_positions": b["positions"]}
        step = lambda: model.train_on_batch(x, b["targets"])  # noqa: E731
    else:
        raise ValueError(impl)
    seconds = time_calls(step, steps)
    emit({"impl": impl, "step_ms": round(1000 * seconds, 1), "tokens_per_s": round(batch * length / seconds, 1)})


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--worker", nargs=6, metavar=("IMPL", "SHAPE", "BATCH", "LENGTH", "PREDICTIONS", "STEPS"))
    p.add_argument("--shapes", nargs="+", default=["minilm"], choices=sorted(SHAPES))
    add_run_arguments(p, batch=8, length=128, rounds=3, steps=5)
    p.add_argument("--max-predictions", type=int, default=20)
    p.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS)
    p.add_argument("--keras-hub-path", default=None)
    p.add_argument("--chart", default="docs/bench_pretrain_step.png", help="PNG chart path ('' for none)")
    args = p.parse_args(argv)
    if args.worker:
        impl, shape, batch, length, predictions, steps = args.worker
        return worker(impl, shape, int(batch), int(length), int(predictions), int(steps))

    rows = []
    for shape in args.shapes:
        jobs = {}
        for peer in args.peers:
            env = {"TF_USE_LEGACY_KERAS": "1"} if peer.startswith("hf") else {}
            if peer.startswith("kerashub") and args.keras_hub_path:
                env["KBS_KERAS_HUB_PATH"] = os.path.abspath(args.keras_hub_path)
            jobs[peer] = ("tools.bench.pretrain_step",
                          [peer, shape, args.batch, args.length, args.max_predictions, args.steps], env)
        samples = interleaved(jobs, args.rounds)
        for peer in args.peers:
            tps, ms = median_of(samples[peer], "tokens_per_s"), median_of(samples[peer], "step_ms")
            errors = [s["error"] for s in samples[peer] if "error" in s]
            note = "" if tps else ("error: " + errors[0].strip().splitlines()[-1][:80] if errors else "no result")
            rows.append([shape, f"{args.batch}x{args.length}", peer, f"{tps:,.0f}" if tps else "-",
                         f"{ms:,.1f}" if ms else "-", note])
    print(f"machine: {machine()}; rounds {args.rounds}, {args.steps} timed steps each (median)")
    print(table(rows, ["shape", "batch", "peer", "tokens/s", "ms/step", "note"]))
    done = [r for r in rows if r[3] != "-"]
    if args.chart and done:
        bar_chart(args.chart, [f"{r[0]} {r[2]}" for r in done], [float(r[3].replace(",", "")) for r in done],
                  "Pretraining step", "tokens / second")


if __name__ == "__main__":
    main()
