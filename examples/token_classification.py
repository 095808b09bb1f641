"""Fine-tune BERT for NER on CoNLL column files (CoNLL-2003 tags by default), evaluate entity-level F1,
export a raw-text SavedModel and tag a few evaluation sentences with it.

    python examples/token_classification.py --train conll2003/train.txt --eval conll2003/valid.txt
"""

from common import build_model, export_and_query, parser, setup, train
from keras_bert_suite import BertForTokenClassification
from keras_bert_suite.data import CONLL2003_LABELS, conll_labels, ner_dataset, read_conll
from keras_bert_suite.data.pipeline import label_ids
from keras_bert_suite.metrics import align_predictions, entity_scores


def examples(sentences, label_names):
    return {"tokens": sentences["tokens"], "tags": [label_ids(t, label_names) for t in sentences["tags"]]}


def main(argv=None):
    args = parser(__doc__).parse_args(argv)
    tok = setup(args)
    train_sents, eval_sents = read_conll(args.train), read_conll(args.eval, limit=args.max_eval)
    found = set(conll_labels(train_sents["tags"] + eval_sents["tags"]))
    label_names = list(CONLL2003_LABELS) if found <= set(CONLL2003_LABELS) else conll_labels(train_sents["tags"])
    options = dict(max_length=args.max_length, batch_size=args.batch_size, label_names=label_names)
    train_ds = ner_dataset(examples(train_sents, label_names), tok, shuffle_buffer=10000, seed=args.seed,
                           bucket_boundaries=[32, 64], **options)
    id2label = dict(enumerate(label_names))
    model = build_model(BertForTokenClassification, args, tok, num_labels=len(label_names), id2label=id2label)
    train(model, train_ds, args)

    true_tags, pred_tags = [], []
    for batch in ner_dataset(examples(eval_sents, label_names), tok, **options):
        labels = batch.pop("labels").numpy()
        logits = model(batch, training=False)["logits"].numpy()
        t, p = align_predictions(logits, labels, id2label)
        true_tags += t
        pred_tags += p
    scores = entity_scores(true_tags, pred_tags)
    print("eval:", {k: round(scores[k], 4) for k in ("precision", "recall", "f1")}, f"({scores['number']} entities)")

    texts = [" ".join(words) for words in eval_sents["tokens"][:3]]
    out = export_and_query(model, tok, args, {"text": texts}, "ner", aggregation_strategy="first")  # word spans
    for i, text in enumerate(texts):
        ents = [(out["entity_text"][i][k], out["entity_label"][i][k]) for k in range(out["num_entities"][i])]
        print(f"  {text[:60]!r} -> {ents}")
    return scores


if __name__ == "__main__":
    main()
