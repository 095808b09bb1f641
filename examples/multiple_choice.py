"""Fine-tune BERT for multiple choice on SWAG-style (sent1, sent2, ending0..3, label) or PIQA-style (goal,
sol1, sol2 + a labels file) data, evaluate accuracy, export a raw-text SavedModel and query it.

    python examples/multiple_choice.py --train swag/train.csv --eval swag/val.csv
    python examples/multiple_choice.py --preset piqa --train piqa/train.jsonl --train-labels piqa/train-labels.lst \
        --eval piqa/valid.jsonl --eval-labels piqa/valid-labels.lst
"""

import numpy as np

from common import build_model, export_and_query, parser, setup, train
from keras_bert_suite import BertForMultipleChoice
from keras_bert_suite.data import multiple_choice_dataset, multiple_choice_examples, read_table
from keras_bert_suite.data.files import read_lines
from keras_bert_suite.metrics import accuracy


def read(path, labels_path, preset, limit=None):
    columns = read_table(path, limit=limit)
    n = len(next(iter(columns.values())))
    labels = read_lines(labels_path)[:n] if labels_path else None
    return multiple_choice_examples(columns, preset=preset, labels=labels)


def main(argv=None):
    p = parser(__doc__, max_length=96, batch_size=8)
    p.add_argument("--preset", default="swag", choices=["swag", "piqa"])
    p.add_argument("--train-labels", default=None)
    p.add_argument("--eval-labels", default=None)
    args = p.parse_args(argv)
    tok = setup(args)
    options = dict(max_length=args.max_length, batch_size=args.batch_size)
    train_ds = multiple_choice_dataset(read(args.train, args.train_labels, args.preset), tok, shuffle_buffer=5000,
                                       seed=args.seed, **options)
    model = build_model(BertForMultipleChoice, args, tok)
    train(model, train_ds, args)

    eval_ex = read(args.eval, args.eval_labels, args.preset, limit=args.max_eval)
    predictions, gold = [], []
    for batch in multiple_choice_dataset(eval_ex, tok, **options):
        gold.append(batch.pop("labels").numpy())
        predictions.append(model(batch, training=False)["logits"].numpy().argmax(-1))
    score = accuracy(np.concatenate(predictions), np.concatenate(gold))
    print(f"eval: accuracy {score:.4f}")

    queries = {"question": eval_ex["first"][:3], "choices": eval_ex["second"][:3]}
    out = export_and_query(model, tok, args, queries, "multiple_choice")
    for q, choices, c in zip(queries["question"], queries["choices"], out["choice"]):
        print(f"  {q[:50]!r} -> {choices[c][:60]!r}")
    return {"accuracy": score}


if __name__ == "__main__":
    main()
