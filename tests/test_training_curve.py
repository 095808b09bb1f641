"""Whole-run parity: twenty optimizer steps of `model.fit` on the real MiniLM checkpoint give the same loss curve
as transformers' PyTorch BERT trained by a plain loop on the same batches.

Dropout is off and the optimizer is SGD with momentum, which Keras and PyTorch define equivalently:
Keras keeps `v = m*v - lr*g; w += v`, PyTorch `b = m*b + g; w -= lr*b`, so `v == -lr*b` at every step.
"""

import os

import numpy as np
import pytest

STEPS, BATCH, MAX_LENGTH = 20, 8, 32
LR, MOMENTUM = 0.05, 0.9
SST2_TRAIN = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "sst2", "train.tsv")


def _sst2_rows(n):
    with open(SST2_TRAIN, encoding="utf-8") as f:
        rows = [line.rstrip("\n").split("\t") for line in f][1:]
    return [text for text, _ in rows[:n]], np.array([int(label) for _, label in rows[:n]], dtype="int64")


class _StepLosses:
    """Per-step losses from Keras' running epoch mean: loss_k = k*mean_k - (k-1)*mean_(k-1)."""

    def __init__(self):
        import keras

        outer = self

        class Callback(keras.callbacks.Callback):
            def on_train_batch_end(self, batch, logs=None):
                outer.means.append(float(logs["loss"]))

        self.means = []
        self.callback = Callback()

    def losses(self):
        means = np.asarray(self.means, dtype=np.float64)
        k = np.arange(1, len(means) + 1)
        previous = np.concatenate([[0.0], means[:-1] * k[:-1]])
        return means * k - previous


@pytest.mark.slow
@pytest.mark.jax
def test_fit_loss_curve_equals_pytorch(minilm, tmp_path):
    import keras
    import torch
    import transformers

    from keras_bert_suite import BertForSequenceClassification
    from keras_bert_suite.tokenizers import BertTokenizer

    no_dropout = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    torch.manual_seed(0)
    reference = transformers.BertForSequenceClassification.from_pretrained(
        minilm, num_labels=2, attn_implementation="eager", **no_dropout
    )
    reference.save_pretrained(tmp_path)  # the same new head on both sides
    model = BertForSequenceClassification.from_pretrained(str(tmp_path), **no_dropout)

    texts, labels = _sst2_rows(STEPS * BATCH)
    encoded = BertTokenizer.from_pretrained(minilm)(
        texts, padding="max_length", truncation=True, max_length=MAX_LENGTH, return_tensors="np"
    )
    x = {k: np.asarray(encoded[k], dtype="int32") for k in ("input_ids", "attention_mask", "token_type_ids")}

    recorder = _StepLosses()
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=LR, momentum=MOMENTUM))
    model.fit({**x, "labels": labels.astype("int32")}, batch_size=BATCH, epochs=1, shuffle=False, verbose=0,
              callbacks=[recorder.callback])
    ours = recorder.losses()

    reference.train()
    optimizer = torch.optim.SGD(reference.parameters(), lr=LR, momentum=MOMENTUM)
    theirs = []
    for step in range(STEPS):
        rows = slice(step * BATCH, (step + 1) * BATCH)
        batch = {k: torch.tensor(v[rows], dtype=torch.long) for k, v in x.items()}
        loss = reference(**batch, labels=torch.tensor(labels[rows])).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        theirs.append(loss.item())
    theirs = np.asarray(theirs)

    assert len(ours) == STEPS
    relative = np.abs(ours - theirs) / np.abs(theirs)
    assert relative.max() < 1e-4, (ours, theirs, relative)
    # the run must actually train, or equal curves prove little
    assert theirs[-5:].mean() < theirs[:5].mean()
