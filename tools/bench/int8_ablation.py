"""Which encoder dense layers the int8 SavedModel option quantizes, and how it quantizes their inputs: labels of a
fine-tuned SST-2 classifier and mean-pooled MiniLM embeddings against float32, and the time of the encoder
in the same process, for each configuration side by side.

A configuration is `<ranges>[:<kept float>,...]`: `tensor` (one input range per call) or `row` (one per token),
then the dense layers left float32, by role (query, key, value, attention_output, intermediate, output) or by
transformer layer (layer_0, ...), as `with_int8_encoder`'s `keep_float` takes them. `float32` is the reference.

The SST-2 dev sentences (872) run as the SavedModel runs them: sorted by length, 8 rows per call, each call padded
to its longest row (a multiple of 8). Labels and logits come from a classifier fine-tuned on SST-2 train with
tools/finetune_compare.py's recipe (written to --model when that folder is missing); embeddings from the MiniLM
checkpoint (sentence-transformers' mean pooling, normalized). Seconds are the medians of interleaved rounds of
one pass over the dev set, classifier only.

    python -m tools.bench.int8_ablation --model /tmp/sst2-minilm --finetune-steps 250 \\
        --configs float32 tensor row tensor:output row:output --rounds 3
"""

import argparse
import os
import sys
import time

os.environ.setdefault("KBS_QUIET_TF", "1")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..")))

import numpy as np  # noqa: E402

from tools.bench.common import SHARED, table, time_rounds  # noqa: E402

FEATURES = ("input_ids", "attention_mask", "token_type_ids")


def parse_config(text):
    """"row:output,layer_0" -> ("row", ("output", "layer_0")); "float32" -> ("float32", ())."""
    ranges, _, kept = text.partition(":")
    if ranges not in ("float32", "tensor", "row"):
        raise ValueError(f"configuration {text!r}: ranges must be float32, tensor or row")
    return ranges, tuple(k for k in kept.split(",") if k)


def variant(model, config):
    """The float model itself, or its int8 copy for one configuration."""
    from keras_bert_suite.export.saved_model import with_int8_encoder

    ranges, kept = parse_config(config)
    if ranges == "float32":
        return model
    return with_int8_encoder(model, keep_float=kept, row_scales=ranges == "row")


def chunks(texts, tokenizer, rows=8, multiple=8, max_length=128):
    """(row indices, padded inputs) per call, as the serving signatures cut a batch sorted by length."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_length)
    order = np.argsort([len(ids) for ids in enc["input_ids"]], kind="stable")
    out = []
    for start in range(0, len(order), rows):
        index = order[start:start + rows]
        longest = max(len(enc["input_ids"][i]) for i in index)
        width = -(-longest // multiple) * multiple
        batch = {k: np.zeros([len(index), width], "int32") for k in FEATURES}
        for r, i in enumerate(index):
            n = len(enc["input_ids"][i])
            batch["input_ids"][r, :n] = enc["input_ids"][i]
            batch["token_type_ids"][r, :n] = enc["token_type_ids"][i]
            batch["attention_mask"][r, :n] = 1
        out.append((index, batch))
    return out


def graph_call(model, output):
    """A graph-mode function of the three inputs (the int8 op has no XLA kernel) returning one output."""
    import tensorflow as tf

    spec = [tf.TensorSpec([None, None], tf.int32)] * 3

    @tf.function(input_signature=spec)
    def call(input_ids, attention_mask, token_type_ids):
        return output(model(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids),
                      attention_mask)

    return call


def run_all(call, batches, n):
    first = call(**batches[0][1]).numpy()
    out = np.zeros([n, *first.shape[1:]], first.dtype)
    for index, batch in batches:
        out[index] = call(**batch).numpy()
    return out


def mean_pooled(outputs, mask):
    import tensorflow as tf

    mask = tf.cast(mask, tf.float32)[..., None]
    pooled = tf.reduce_sum(outputs.last_hidden_state * mask, 1) / tf.maximum(tf.reduce_sum(mask, 1), 1e-9)
    return tf.math.l2_normalize(pooled, -1)


def finetune(folder, steps):
    """Fine-tune MiniLM on SST-2 train (tools/finetune_compare.py's recipe, seed 0, length 64) into `folder`."""
    import argparse as ap

    import keras_bert_suite as kbs
    from tools import finetune_compare as fc

    checkpoint = fc.minilm_folder()
    tokenizer = kbs.TFBertTokenizer.from_pretrained(checkpoint)
    arrays, _, config = fc.load_task("sst2", tokenizer, 64, 20000, 0)
    start = fc.initial_folder("sst2", checkpoint, config, 0, folder + ".init")
    order = fc.batch_order(len(arrays["input_ids"]), steps, 32, 0)
    model, _ = fc.train_ours("sst2", start, arrays, order, ap.Namespace(steps=steps, batch_size=32,
                                                                          learning_rate=1e-4), 0)
    model.save_pretrained(folder)
    kbs.BertTokenizer.from_pretrained(checkpoint).save_pretrained(folder)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="a fine-tuned SST-2 BertForSequenceClassification folder")
    p.add_argument("--finetune-steps", type=int, default=250, help="steps when --model has to be made")
    p.add_argument("--configs", nargs="+", default=["float32", "tensor", "row"])
    p.add_argument("--rounds", type=int, default=3, help="timed passes per configuration, interleaved")
    p.add_argument("--no-embeddings", action="store_true", help="skip the MiniLM embedding cosine")
    args = p.parse_args(argv)
    for config in args.configs:
        parse_config(config)

    import keras_bert_suite as kbs
    from tools import finetune_compare as fc

    if not os.path.exists(os.path.join(args.model, "config.json")):
        finetune(args.model, args.finetune_steps)
    with open(os.path.join(SHARED, "sst2", "dev.tsv"), encoding="utf-8") as f:
        rows = [line.split("\t") for line in f.read().splitlines()[1:]]
    texts, gold = [r[0] for r in rows], np.array([int(r[1]) for r in rows])

    classifier = kbs.BertForSequenceClassification.from_pretrained(args.model)
    batches = chunks(texts, kbs.BertTokenizer.from_pretrained(args.model))
    calls = {c: graph_call(variant(classifier, c), lambda out, mask: out.logits) for c in args.configs}
    logits = {c: run_all(call, batches, len(texts)) for c, call in calls.items()}
    reference = logits.get("float32")
    if reference is None:
        reference = run_all(graph_call(classifier, lambda out, mask: out.logits), batches, len(texts))

    cosines = {}
    if not args.no_embeddings:
        encoder = kbs.BertModel.from_pretrained(fc.minilm_folder())
        emb_batches = chunks(texts, kbs.BertTokenizer.from_pretrained(fc.minilm_folder()))
        want = run_all(graph_call(encoder, mean_pooled), emb_batches, len(texts))
        for c in args.configs:
            got = run_all(graph_call(variant(encoder, c), mean_pooled), emb_batches, len(texts))
            cosines[c] = (got * want).sum(-1)

    # one pass over the dev set per call, configurations interleaved over rounds (medians)
    passes = {c: lambda call=call: [call(**batch).numpy() for _, batch in batches] for c, call in calls.items()}
    seconds = time_rounds(passes, args.rounds, 1, time.perf_counter, warmup=0)

    ref_labels = reference.argmax(-1)
    fastest_float = seconds.get("float32")
    out = []
    for c in args.configs:
        labels = logits[c].argmax(-1)
        s = seconds[c]
        out.append([c, f"{(labels == ref_labels).mean():.2%}", f"{(labels == gold).mean():.4f}",
                    f"{np.abs(logits[c] - reference).max():.3f}",
                    f"{cosines[c].mean():.4f} / {cosines[c].min():.4f}" if c in cosines else "-",
                    f"{s:.2f}", f"{fastest_float / s:.2f}x" if fastest_float else "-"])
    print(f"{len(texts)} SST-2 dev sentences; classifier accuracy float32 {(ref_labels == gold).mean():.4f}")
    print(table(out, ["configuration", "labels = float32", "accuracy", "max |logit diff|",
                      "embedding cosine mean / min", "seconds per pass", "speed vs float32"]))
    print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))


if __name__ == "__main__":
    main()
