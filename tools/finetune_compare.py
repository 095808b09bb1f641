"""Fine-tune one checkpoint with keras-bert-suite and with transformers' PyTorch BERT on the same recipe, and score
both with the same evaluation code: the rows of docs/results.md.

The recipe is shared to the batch: the training examples are encoded once (our in-graph tokenizer, whose ids equal
the reference's), padded to `--max-length`, and put in one order drawn from the seed; both libraries start from
the same weights (the new head is initialised by PyTorch under the seed and saved, and both load that folder); both
use AdamW with BERT's schedule (linear warm-up over 10% of the steps, then linear decay to 0), weight decay 0.01
except biases and LayerNorm weights, epsilon 1e-6, gradients clipped to a global norm of 1.0. Dropout stays on (its
random draws differ between the libraries: that and the seed are the run-to-run noise). The PyTorch model is
then saved and loaded here, so evaluation runs the same code for both.

    python tools/finetune_compare.py --task sst2 --steps 300 --seeds 0 1
    python tools/finetune_compare.py --task conll2003 --steps 400 --seeds 0 1
    python tools/finetune_compare.py --task squad --steps 300 --train-size 4000 --eval-size 500 --seeds 0 1
    python tools/finetune_compare.py --task piqa --steps 300 --seeds 0 1

Tasks read ../shared/data: SST-2 (train.tsv / dev.tsv accuracy), CoNLL-2003 (train.txt / valid.txt entity F1),
SQuAD v1.1 (dev-v1.1.json: training on its first questions, scoring on its last; EM / F1), PIQA (valid.jsonl:
training on its first half, scoring on the second; accuracy). Prints one JSON line per run and a summary.
"""

import argparse
import json
import os
import sys
import tempfile
import time

os.environ.setdefault("KBS_QUIET_TF", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, os.path.abspath(os.path.join(os.path.dirname(__file__), "..")))

import numpy as np  # noqa: E402

import keras_bert_suite as kbs  # noqa: E402
from keras_bert_suite import data as kdata  # noqa: E402
from keras_bert_suite import metrics  # noqa: E402
from tools.bench.common import SHARED, minilm_folder  # noqa: E402

FEATURES = ("input_ids", "attention_mask", "token_type_ids")

# task -> (model class, here and in transformers; label keys; default max length)
TASKS = {
    "sst2": ("BertForSequenceClassification", ("labels",), 64),
    "conll2003": ("BertForTokenClassification", ("labels",), 128),
    "squad": ("BertForQuestionAnswering", ("start_positions", "end_positions"), 256),
    "piqa": ("BertForMultipleChoice", ("labels",), 96),
}


def _arrays(dataset):
    """A batched dataset padded to one length -> a dict of numpy arrays over all its rows."""
    parts = {}
    for batch in dataset:
        for key, value in batch.items():
            parts.setdefault(key, []).append(value.numpy())
    return {key: np.concatenate(values) for key, values in parts.items()}


def load_task(task, tokenizer, max_length, train_size, eval_size):
    """(training arrays, evaluation data, model config overrides) for a task."""
    static = dict(max_length=max_length, batch_size=256, pad_to_max_length=True)
    if task == "sst2":
        train = kdata.classification_examples(kdata.read_table(os.path.join(SHARED, "sst2", "train.tsv"),
                                                               limit=train_size), "sst2")
        dev = kdata.classification_examples(kdata.read_table(os.path.join(SHARED, "sst2", "dev.tsv"),
                                                             limit=eval_size), "sst2")
        return _arrays(kdata.classification_dataset(train, tokenizer, **static)), dev, {"num_labels": 2}
    if task == "conll2003":
        labels = list(kdata.CONLL2003_LABELS)
        as_examples = lambda s: {"tokens": s["tokens"], "tags": [  # noqa: E731
            kdata.pipeline.label_ids(t, labels) for t in s["tags"]]}
        train = kdata.read_conll(os.path.join(SHARED, "conll2003", "train.txt"), limit=train_size)
        dev = as_examples(kdata.read_conll(os.path.join(SHARED, "conll2003", "valid.txt"), limit=eval_size))
        arrays = _arrays(kdata.ner_dataset(as_examples(train), tokenizer, label_names=labels, **static))
        return arrays, dev, {"num_labels": len(labels), "id2label": dict(enumerate(labels))}
    if task == "squad":
        everything = kdata.read_squad(os.path.join(SHARED, "squad", "dev-v1.1.json"))
        n = len(everything["question"])
        train = {k: v[:train_size] for k, v in everything.items()}
        dev = {k: v[n - eval_size:] for k, v in everything.items()}
        return _arrays(kdata.squad_dataset(kdata.squad_examples(train), tokenizer, doc_stride=max_length // 2,
                                           **static)), dev, {}
    if task == "piqa":
        folder = os.path.join(SHARED, "multiple_choice", "piqa")
        columns = kdata.read_table(os.path.join(folder, "valid.jsonl"))
        labels = kdata.files.read_lines(os.path.join(folder, "valid-labels.lst"))
        examples = kdata.multiple_choice_examples(columns, preset="piqa", labels=labels)
        half = len(examples["labels"]) // 2
        train = {k: v[:min(half, train_size)] for k, v in examples.items()}
        dev = {k: v[len(examples["labels"]) - min(half, eval_size):] for k, v in examples.items()}
        return _arrays(kdata.multiple_choice_dataset(train, tokenizer, **static)), dev, {}
    raise ValueError(f"unknown task {task!r}; choose from {sorted(TASKS)}")


def evaluate(task, model, tokenizer, dev, max_length):
    """Scores of a model of ours on the evaluation data (the same code for both libraries' weights)."""
    if task == "sst2":
        predictions, gold = [], []
        for batch in kdata.classification_dataset(dev, tokenizer, max_length=max_length, batch_size=64):
            gold.append(batch.pop("labels").numpy())
            predictions.append(model(batch, training=False).logits.numpy().argmax(-1))
        return metrics.glue_metrics("sst2", np.concatenate(predictions), np.concatenate(gold))
    if task == "conll2003":
        id2label = dict(enumerate(kdata.CONLL2003_LABELS))
        true_tags, pred_tags = [], []
        for batch in kdata.ner_dataset(dev, tokenizer, max_length=max_length, batch_size=64):
            labels = batch.pop("labels").numpy()
            t, p = metrics.align_predictions(model(batch, training=False).logits.numpy(), labels, id2label)
            true_tags += t
            pred_tags += p
        scores = metrics.entity_scores(true_tags, pred_tags)
        return {k: scores[k] for k in ("precision", "recall", "f1")}
    if task == "squad":
        answers = kdata.predict_answers(model, tokenizer, dev, max_length=max_length, doc_stride=max_length // 2,
                                        batch_size=16)
        return metrics.squad_metrics(answers, dev["answers"])
    predictions, gold = [], []
    for batch in kdata.multiple_choice_dataset(dev, tokenizer, max_length=max_length, batch_size=32):
        gold.append(batch.pop("labels").numpy())
        predictions.append(model(batch, training=False).logits.numpy().argmax(-1))
    return {"accuracy": float(np.mean(np.concatenate(predictions) == np.concatenate(gold)))}


def batch_order(rows, steps, batch_size, seed):
    """Row indices of each step: shuffled epochs drawn from the seed, cut to steps * batch_size."""
    rng = np.random.RandomState(seed)
    need = steps * batch_size
    order = np.concatenate([rng.permutation(rows) for _ in range(-(-need // rows))])[:need]
    return order.reshape(steps, batch_size)


def initial_folder(task, checkpoint, config, seed, out):
    """The checkpoint with the task's head initialised by PyTorch under `seed`, saved for both libraries."""
    import torch
    import transformers

    torch.manual_seed(seed)
    model = getattr(transformers, TASKS[task][0]).from_pretrained(checkpoint, **config)
    model.save_pretrained(out)
    return out


def train_ours(task, folder, arrays, order, args, seed):
    import keras

    from keras_bert_suite.pretraining import create_optimizer

    keras.utils.set_random_seed(seed)
    model = getattr(kbs, TASKS[task][0]).from_pretrained(folder)
    model.compile(optimizer=create_optimizer(args.learning_rate, total_steps=args.steps), jit_compile=True)
    rows = order.reshape(-1)
    x = {k: arrays[k][rows] for k in FEATURES + TASKS[task][1]}
    history = model.fit(x, batch_size=args.batch_size, epochs=1, shuffle=False, verbose=0)
    return model, history.history["loss"][-1]


def train_torch(task, folder, arrays, order, args, seed, out):
    import torch
    import transformers

    torch.manual_seed(seed)
    model = getattr(transformers, TASKS[task][0]).from_pretrained(folder, attn_implementation="eager").train()
    no_decay = ("bias", "LayerNorm.weight")
    groups = [
        {"params": [p for n, p in model.named_parameters() if not n.endswith(no_decay)], "weight_decay": 0.01},
        {"params": [p for n, p in model.named_parameters() if n.endswith(no_decay)], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(groups, lr=args.learning_rate, eps=1e-6)
    warmup = int(0.1 * args.steps)
    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: s / max(warmup, 1) if s < warmup else max(
        0.0, (args.steps - s) / max(args.steps - warmup, 1)))
    losses = []
    for rows in order:
        batch = {k: torch.tensor(arrays[k][rows], dtype=torch.long) for k in FEATURES + TASKS[task][1]}
        loss = model(**batch).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        losses.append(loss.item())
    model.save_pretrained(out)
    return getattr(kbs, TASKS[task][0]).from_pretrained(out), float(np.mean(losses))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", choices=sorted(TASKS), required=True)
    p.add_argument("--model", default=None, help="a BERT checkpoint (default: the MiniLM package's)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-4)
    p.add_argument("--max-length", type=int, default=None)
    p.add_argument("--train-size", type=int, default=20000)
    p.add_argument("--eval-size", type=int, default=1000)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--libraries", nargs="+", default=["keras-bert-suite", "transformers-pytorch"])
    args = p.parse_args(argv)
    checkpoint = args.model or minilm_folder()
    max_length = args.max_length or TASKS[args.task][2]
    tokenizer = kbs.TFBertTokenizer.from_pretrained(checkpoint)
    arrays, dev, config = load_task(args.task, tokenizer, max_length, args.train_size, args.eval_size)
    rows = len(arrays["input_ids"])
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            folder = initial_folder(args.task, checkpoint, config, seed, os.path.join(tmp, f"init{seed}"))
            order = batch_order(rows, args.steps, args.batch_size, seed)
            for library in args.libraries:
                start = time.perf_counter()
                if library == "keras-bert-suite":
                    model, loss = train_ours(args.task, folder, arrays, order, args, seed)
                else:
                    model, loss = train_torch(args.task, folder, arrays, order, args, seed,
                                              os.path.join(tmp, f"torch{seed}"))
                seconds = time.perf_counter() - start
                scores = evaluate(args.task, model, tokenizer, dev, max_length)
                row = {"task": args.task, "library": library, "seed": seed, "steps": args.steps,
                       "batch_size": args.batch_size, "max_length": max_length, "train_rows": rows,
                       "train_seconds": round(seconds, 1), "final_loss": round(float(loss), 4),
                       **{k: round(float(v), 4) for k, v in scores.items()}}
                results.append(row)
                print(json.dumps(row), flush=True)
    metric = {"sst2": "accuracy", "conll2003": "f1", "squad": "f1", "piqa": "accuracy"}[args.task]
    for library in args.libraries:
        values = [r[metric] for r in results if r["library"] == library]
        print(f"{library}: {metric} {np.mean(values):.4f} (seeds {args.seeds}: {values}, spread "
              f"{max(values) - min(values):.4f})")
    return results


if __name__ == "__main__":
    main()
