"""The heads' losses against PyTorch's on logits large enough to overflow a naive formula."""

import numpy as np

from keras_bert_suite import losses


def test_multi_label_loss_matches_torch_bce_with_logits():
    import torch

    rng = np.random.RandomState(0)
    logits = np.concatenate([rng.randn(4, 5) * 3, [[-1e4, -60.0, 0.0, 60.0, 1e4]]]).astype("float32")
    labels = rng.randint(0, 2, logits.shape).astype("float32")
    got = float(losses.sequence_classification_loss(logits, labels, "multi_label_classification"))
    want = float(torch.nn.BCEWithLogitsLoss()(torch.tensor(logits), torch.tensor(labels)))
    assert np.isfinite(got) and abs(got - want) <= 1e-6 * max(1.0, abs(want))
