"""The first real request after a SavedModel loads, with and without replaying its warmup records first.

A MiniLM sentence classifier (random head) is exported once (max_length 64, XLA, warmup records written). Each
measurement runs in a fresh process with only tensorflow and tensorflow_text, as a server would: load, then
(`--replay`) run every warmup record as TF Serving does at load time, then time the first real request (8
SST-2 dev sentences) and the second one.

Usage:
    python -m tools.bench.warmup [--max-length 64] [--rounds 2]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap

from tools.bench.common import SHARED

FRESH = textwrap.dedent("""
    import json, sys, time
    import tensorflow as tf
    import tensorflow_text  # noqa: F401
    path, texts, replay = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3] == "1"
    start = time.perf_counter()
    loaded = tf.saved_model.load(path)
    load_s = time.perf_counter() - start
    replay_s = 0.0
    if replay:
        from tensorflow_serving.apis import prediction_log_pb2
        start = time.perf_counter()
        records = 0
        for raw in tf.data.TFRecordDataset(path + "/assets.extra/tf_serving_warmup_requests"):
            request = prediction_log_pb2.PredictionLog.FromString(raw.numpy()).predict_log.request
            fn = loaded.signatures[request.model_spec.signature_name]
            fn(**{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
            records += 1
        replay_s = time.perf_counter() - start
    fn = loaded.signatures["serving_default"]
    times = []
    for _ in range(2):
        start = time.perf_counter()
        fn(text=tf.constant(texts))
        times.append(time.perf_counter() - start)
    print(json.dumps({"load_s": load_s, "replay_s": replay_s, "first_s": times[0], "second_s": times[1]}))
""")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    import keras_bert_suite as kbs
    from keras_bert_suite.export import export_saved_model, warmup
    from keras_bert_suite.tokenizers import BertTokenizer
    from tools.bench.serving import minilm_folder

    with open(os.path.join(SHARED, "sst2", "dev.tsv"), encoding="utf-8") as f:
        texts = [line.split("\t")[0] for line in f.read().splitlines()[1:9]]
    model = kbs.BertForSequenceClassification.from_pretrained(minilm_folder(), num_labels=2)
    with tempfile.TemporaryDirectory() as root:
        path = export_saved_model(model, BertTokenizer.from_pretrained(minilm_folder()), os.path.join(root, "clf"),
                                  max_length=args.max_length)
        records = len(warmup.read_warmup(path))
        env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH="")
        print(f"{records} warmup records (max_length {args.max_length})")
        print("| replay | load s | replay s | first request s | second request s |")
        print("|---|---|---|---|---|")
        for _ in range(args.rounds):
            for replay in ("0", "1"):
                proc = subprocess.run([sys.executable, "-I", "-c", FRESH, path, json.dumps(texts), replay],
                                      capture_output=True, text=True, env=env, check=True)
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                print(f"| {'yes' if replay == '1' else 'no'} | {r['load_s']:.2f} | {r['replay_s']:.1f} "
                      f"| {r['first_s']:.2f} | {r['second_s']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
