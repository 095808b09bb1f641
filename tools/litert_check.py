"""LiteRT export of the real MiniLM checkpoint against the raw-text SavedModel, on real text.

Exports a classifier (MiniLM encoder, a seeded 2-label head) and the sentence-embedding model both ways, runs
SST-2 dev sentences and UDHR paragraphs (72 languages) through the LiteRT interpreter and the SavedModel, and
prints: file sizes, how many word-piece ids / labels agree, the largest probability and embedding differences,
the int8 (dynamic-range) model's embedding cosines and label agreement, and the latency per sentence at batch 1.

    python tools/litert_check.py --minilm PATH --data ../shared/data --sentences 200 --udhr 200

Figures in docs/litert.md come from this script.
"""

import argparse
import os
import tempfile
import time

import numpy as np


def _texts(data, n_sst2, n_udhr):
    with open(os.path.join(data, "sst2", "dev.tsv"), encoding="utf-8") as f:
        sst2 = [line.split("\t")[0] for line in f.read().splitlines()[1:]][:n_sst2]
    with open(os.path.join(data, "multilingual", "udhr_paragraphs.tsv"), encoding="utf-8") as f:
        rows = [line.split("\t") for line in f.read().splitlines()[1:]]
    step = max(len(rows) // max(n_udhr, 1), 1)
    udhr = [r[2] for r in rows[::step]][:n_udhr]
    return {"sst2": sst2, "udhr": udhr}


def _batches(texts, size=16):
    for i in range(0, len(texts), size):
        yield texts[i:i + size]


def _saved(path, texts):
    import tensorflow as tf

    fn = tf.saved_model.load(path).signatures["serving_default"]
    parts = [fn(text=tf.constant(b)) for b in _batches(texts)]
    return {k: [p[k].numpy() for p in parts] for k in parts[0]}


def _lite(interpreter, texts):
    from keras_bert_suite.export.litert import run_litert

    parts = [run_litert(interpreter, b) for b in _batches(texts)]
    return {k: [p[k] for p in parts] for k in parts[0]}


def _ids_agree(lite, tokenizer, texts):
    import tensorflow as tf

    same = 0
    for got, batch in zip(lite["input_ids"], _batches(texts)):
        want = tokenizer(tf.constant(batch))["input_ids"].numpy()
        same += sum(int(np.array_equal(g[:len(w)], w) and not g[len(w):].any()) for g, w in zip(got, want))
    return same


def _latency(interpreter, texts, n=50):
    from keras_bert_suite.export.litert import run_litert

    run_litert(interpreter, texts[:1])
    times = []
    for t in texts[:n]:
        start = time.perf_counter()
        run_litert(interpreter, [t])
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minilm", required=True)
    parser.add_argument("--data", default=os.path.join("..", "shared", "data"))
    parser.add_argument("--sentences", type=int, default=200)
    parser.add_argument("--udhr", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()

    import keras

    import keras_bert_suite as kbs
    from keras_bert_suite.export import export_saved_model
    from keras_bert_suite.export.litert import export_litert, litert_interpreter
    from keras_bert_suite.tokenizers import TFBertTokenizer

    sets = _texts(args.data, args.sentences, args.udhr)
    tokenizer = TFBertTokenizer.from_pretrained(args.minilm)
    reference_tokenizer = tokenizer.with_settings(max_length=128, truncation=True, pad_to_multiple_of=8)
    keras.utils.set_random_seed(0)
    models = {
        "sequence_classification": kbs.BertForSequenceClassification.from_pretrained(args.minilm, num_labels=2),
        "feature_extraction": kbs.BertModel.from_pretrained(args.minilm),
    }
    out = tempfile.mkdtemp(prefix="litert_check.")
    for task, model in models.items():
        saved = export_saved_model(model, tokenizer, os.path.join(out, task), jit_compile=False)
        for quantize in (None, "dynamic_int8"):
            path = os.path.join(out, f"{task}-{quantize or 'float32'}.tflite")
            start = time.perf_counter()
            export_litert(model, tokenizer, path, quantize=quantize)
            took = time.perf_counter() - start
            interpreter = litert_interpreter(path, num_threads=args.threads)
            print(f"{task} {quantize or 'float32'}: {os.path.getsize(path) / 2**20:.1f} MiB, converted in "
                  f"{took:.0f} s, batch-1 latency {_latency(interpreter, sets['sst2']):.1f} ms/sentence (SST-2, "
                  f"{args.threads} thread(s))")
            for name, texts in sets.items():
                lite, want = _lite(interpreter, texts), _saved(saved, texts)
                line = f"  {name} ({len(texts)} texts): ids equal {_ids_agree(lite, reference_tokenizer, texts)}"
                if task == "sequence_classification":
                    labels = sum(int((a == b).sum()) for a, b in zip(lite["label"], want["label"]))
                    diff = max(float(np.abs(a - b).max()) for a, b in zip(lite["probabilities"], want["probabilities"]))
                    line += f", labels equal {labels}, max |probability difference| {diff:.2e}"
                else:
                    a = np.concatenate(lite["sentence_embedding"])
                    b = np.concatenate(want["sentence_embedding"])
                    cos = (a * b).sum(-1) / np.linalg.norm(a, axis=-1) / np.linalg.norm(b, axis=-1)
                    line += (f", max |embedding difference| {np.abs(a - b).max():.2e}, cosine mean {cos.mean():.5f}"
                             f" min {cos.min():.5f}")
                print(line, flush=True)


if __name__ == "__main__":
    main()
