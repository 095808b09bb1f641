"""Pretraining BERT from plain text: the MLM + NSP data pipeline, masking, optimizers and resumable training.

Example:
    >>> from keras_bert_suite import BertConfig, BertForPreTraining, pretraining as pt
    >>> from keras_bert_suite.tokenizers import TFBertTokenizer
    >>> from keras_bert_suite.tokenizers.vocab import save_vocab
    >>> _ = save_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "dog", "ran", "."],
    ...                "vocab.txt")
    >>> vocab = pt.Vocabulary.from_file("vocab.txt")
    >>> make = lambda skip_batches: pt.pretraining_dataset(["corpus.txt"], TFBertTokenizer(vocab.tokens), vocab,
    ...                                                    batch_size=32, skip_batches=skip_batches)
    >>> model = BertForPreTraining(BertConfig(vocab_size=vocab.size, hidden_size=32, num_hidden_layers=2,
    ...                                       num_attention_heads=4, intermediate_size=37))
    >>> _ = pt.compile_for_pretraining(model, pt.create_optimizer(1e-4, total_steps=1000))
    >>> pt.train(model, make, max_steps=1000, backup_dir="run/backup", checkpoint_every=100,
    ...          log_dir="run/logs")  # doctest: +SKIP
"""

from keras_bert_suite.pretraining.data import (
    Vocabulary,
    as_tokenize_fn,
    pretraining_dataset,
    reduced_vocabulary,
    sentence_pairs,
    split_documents,
    tokenize_documents,
)
from keras_bert_suite.pretraining.masking import MaskedLMMasker, continuation_table, mask_tokens, masked_positions
from keras_bert_suite.pretraining.optimization import WarmupLinearDecay, create_optimizer
from keras_bert_suite.pretraining.training import (
    LossCurve,
    MaskedLMLoss,
    compile_for_pretraining,
    features_and_targets,
    restored_step,
    train,
)

__all__ = [
    "LossCurve", "MaskedLMLoss", "MaskedLMMasker", "Vocabulary", "WarmupLinearDecay", "as_tokenize_fn",
    "compile_for_pretraining", "continuation_table", "create_optimizer", "features_and_targets", "mask_tokens",
    "masked_positions", "pretraining_dataset", "reduced_vocabulary", "restored_step", "sentence_pairs",
    "split_documents", "tokenize_documents", "train",
]
