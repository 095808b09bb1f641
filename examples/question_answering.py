"""Fine-tune BERT for extractive QA on SQuAD JSON files (v1.1 or v2.0), evaluate exact match / F1, export a
raw-text SavedModel and ask it a few evaluation questions.

    python examples/question_answering.py --train squad/train-v1.1.json --eval squad/dev-v1.1.json
"""

from common import build_model, export_and_query, parser, setup, train
from keras_bert_suite import BertForQuestionAnswering
from keras_bert_suite.data import predict_answers, read_squad, squad_dataset, squad_examples
from keras_bert_suite.metrics import squad_metrics


def main(argv=None):
    p = parser(__doc__, max_length=384, batch_size=12, learning_rate=3e-5)
    p.add_argument("--doc-stride", type=int, default=128, help="tokens shared by consecutive windows")
    p.add_argument("--version-2", action="store_true", help="SQuAD v2.0: allow 'no answer'")
    args = p.parse_args(argv)
    tok = setup(args)
    windows = dict(max_length=args.max_length, doc_stride=args.doc_stride)
    train_ds = squad_dataset(squad_examples(read_squad(args.train)), tok, batch_size=args.batch_size,
                             shuffle_buffer=2000, seed=args.seed, **windows)
    model = build_model(BertForQuestionAnswering, args, tok, num_labels=2)
    train(model, train_ds, args)

    dev = read_squad(args.eval, limit=args.max_eval)
    answers = predict_answers(model, tok, dev, batch_size=args.batch_size, version_2=args.version_2, **windows)
    scores = squad_metrics(answers, dev["answers"])
    print("eval:", {k: round(v, 2) for k, v in scores.items()})

    queries = {"question": dev["question"][:3], "context": dev["context"][:3]}
    out = export_and_query(model, tok, args, queries, "squad", doc_stride=args.doc_stride)
    for q, a, gold in zip(queries["question"], out["answer"], dev["answers"]):
        print(f"  {q!r} -> {a!r} (gold {gold[0]!r})")
    return scores


if __name__ == "__main__":
    main()
