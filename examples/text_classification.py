"""Fine-tune BERT on a GLUE-style classification task (single sentences or pairs), evaluate, export, query.

    python examples/text_classification.py --task sst2 --train sst2/train.tsv --eval sst2/dev.tsv
    python examples/text_classification.py --task qnli --train qnli/train.tsv --eval qnli/dev.tsv --max-steps 500
"""

import numpy as np

from common import build_model, export_and_query, parser, setup, train
from keras_bert_suite import BertForSequenceClassification
from keras_bert_suite.data import classification_examples, classification_dataset, glue_task, read_table
from keras_bert_suite.metrics import glue_metrics


def main(argv=None):
    p = parser(__doc__)
    p.add_argument("--task", default="sst2", help="GLUE task: sst2, cola, mrpc, qnli, rte, stsb, ...")
    args = p.parse_args(argv)
    tok = setup(args)
    task = glue_task(args.task)
    options = dict(max_length=args.max_length, batch_size=args.batch_size, regression=task.is_regression)
    train_ex = classification_examples(read_table(args.train), task)
    train_ds = classification_dataset(train_ex, tok, shuffle_buffer=10000, seed=args.seed,
                                      bucket_boundaries=[32, 64], **options)
    labels = {"id2label": dict(enumerate(task.labels))} if task.labels else {}
    model = build_model(BertForSequenceClassification, args, tok, num_labels=task.num_labels, **labels)
    train(model, train_ds, args)

    eval_ex = {k: v[:args.max_eval] for k, v in classification_examples(read_table(args.eval), task).items()}
    predictions, gold = [], []
    for batch in classification_dataset(eval_ex, tok, **options):
        gold.append(batch.pop("labels").numpy())
        logits = model(batch, training=False)["logits"].numpy()
        predictions.append(logits[:, 0] if task.is_regression else logits.argmax(-1))
    scores = glue_metrics(args.task, np.concatenate(predictions), np.concatenate(gold))
    print("eval:", {k: round(v, 4) for k, v in scores.items()})

    texts = {"text": eval_ex["text"][:3]}
    if "text_pair" in eval_ex:
        texts["text_pair"] = eval_ex["text_pair"][:3]
    out = export_and_query(model, tok, args, texts, args.task, signature="pair" if "text_pair" in texts else
                           "serving_default")
    for i, text in enumerate(texts["text"]):
        print(f"  {text[:70]!r} -> {out['label'][i] if 'label' in out else out['score'][i]}")
    return scores


if __name__ == "__main__":
    main()
