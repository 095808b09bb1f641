"""Continue masked-LM training of BERT on a text file (one passage per line), evaluate masked-token accuracy,
export a raw-text fill-mask SavedModel and ask it to fill [MASK] in a few evaluation lines.

    python examples/masked_lm.py --train text/wikitext2_valid.tokens.txt --eval text/bert_sample_text.txt
"""

from common import build_model, export_and_query, parser, setup, train  # first: quiets TensorFlow
import tensorflow as tf
from keras_bert_suite import BertForMaskedLM
from keras_bert_suite.data.files import read_lines
from keras_bert_suite.data.pipeline import as_dataset, encoder, graph_tokenizer
from keras_bert_suite.pretraining.masking import MaskedLMMasker


def mlm_dataset(lines, tok, masker, batch_size, max_length, seed):
    """Lines -> {input_ids (masked), attention_mask, token_type_ids, labels (-100 where not masked)}."""
    fixed = graph_tokenizer(tok, padding="max_length", max_length=max_length, truncation=True)
    tokenize = encoder(fixed)
    ds = as_dataset({"text": lines}).batch(batch_size, drop_remainder=True).enumerate()

    def encode(step, batch):
        enc = tokenize(batch["text"])
        masked, labels = masker(enc["input_ids"], seed=tf.stack([tf.cast(seed, tf.int64), step]),
                                attention_mask=enc["attention_mask"])
        return {"input_ids": masked, "attention_mask": enc["attention_mask"],
                "token_type_ids": enc["token_type_ids"], "labels": labels}

    return ds.map(encode).prefetch(tf.data.AUTOTUNE)


def main(argv=None):
    args = parser(__doc__, max_length=64).parse_args(argv)
    tok = setup(args)
    masker = MaskedLMMasker.from_vocabulary(tok.vocab, max_predictions_per_seq=max(1, args.max_length // 6))
    lines = [line for line in read_lines(args.train) if not line.startswith("=")]
    model = build_model(BertForMaskedLM, args, tok)
    train(model, mlm_dataset(lines, tok, masker, args.batch_size, args.max_length, args.seed), args)

    eval_lines = read_lines(args.eval, limit=args.max_eval)
    right = total = 0
    for batch in mlm_dataset(eval_lines, tok, masker, min(args.batch_size, len(eval_lines)), args.max_length, 1):
        labels = batch.pop("labels").numpy()
        predicted = model(batch, training=False)["logits"].numpy().argmax(-1)
        chosen = labels != -100
        right += int((predicted[chosen] == labels[chosen]).sum())
        total += int(chosen.sum())
    print(f"eval: masked-token accuracy {right / max(total, 1):.4f} over {total} tokens")

    queries = []
    for line in eval_lines[:3]:
        words = line.split()
        words[len(words) // 2] = "[MASK]"
        queries.append(" ".join(words[:40]))
    out = export_and_query(model, tok, args, {"text": queries}, "masked_lm")
    for q, tokens in zip(queries, out["tokens"]):
        print(f"  {q[:70]!r} -> {tokens[0][:3]}")
    return {"accuracy": right / max(total, 1)}


if __name__ == "__main__":
    main()
