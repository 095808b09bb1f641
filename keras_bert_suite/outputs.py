"""Output classes, named and shaped as transformers' BERT outputs.

Each is a `dict` holding only the fields that were computed, readable as attributes (`out.logits`, None when
absent), as keys (`out["logits"]`) and by position (`out[0]`, in field order), so code written against
transformers' outputs keeps working. They are registered as tree nodes so Keras and `tf.function` can pass them
through `fit`, `predict` and SavedModels.

Example:
    >>> import numpy as np
    >>> x, p = np.zeros([2, 5, 32]), np.zeros([2, 32])
    >>> out = BaseModelOutputWithPoolingAndCrossAttentions(last_hidden_state=x, pooler_output=p)
    >>> out.pooler_output is out["pooler_output"] is out[1]
    True
    >>> out.attentions is None, list(out)
    (True, ['last_hidden_state', 'pooler_output'])
"""

import keras
import optree


class ModelOutput(dict):
    """Base of the output classes: a dict of the fields that are not None, in field order.

    Args:
        *args, **kwargs: the fields, as for `dict`; a field that is None is left out, an unknown name raises
            `TypeError`.

    Example:
        >>> out = SequenceClassifierOutput(logits=[[0.5, -0.5]], loss=None)
        >>> out.logits, out.loss, len(out)
        ([[0.5, -0.5]], None, 1)
    """

    _fields: tuple = ()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _register_tree_node(cls)

    def __init__(self, *args, **kwargs):
        data = dict(*args, **kwargs)
        unknown = set(data) - set(self._fields)
        if unknown:
            raise TypeError(f"{type(self).__name__} has no fields {sorted(unknown)}; fields: {self._fields}")
        super().__init__((k, data[k]) for k in self._fields if data.get(k) is not None)

    def __getattr__(self, name):
        if name in type(self)._fields:
            return self.get(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def __setattr__(self, name, value):
        if name in type(self)._fields:
            if value is None:
                self.pop(name, None)
            else:
                self[name] = value
        else:
            super().__setattr__(name, value)

    def __getitem__(self, key):
        if isinstance(key, (int, slice)):
            return self.to_tuple()[key]
        return super().__getitem__(key)

    def to_tuple(self):
        return tuple(self[k] for k in self._fields if k in self)

    def __reduce__(self):
        return (type(self), (dict(self),))


def _register_tree_node(cls):
    """Make `cls` a tree node for Keras (optree, namespace "keras") and, under the JAX backend, for JAX
    (`jax.tree_util`), so `fit`, `predict`, `tf.function`, `jax.jit` and `jax.grad` can return it. Children are
    the present fields in sorted key order (as Keras orders plain dicts); the keys are the node's aux data."""
    optree.register_pytree_node(
        cls,
        lambda out: (tuple(out[k] for k in sorted(out)), tuple(sorted(out)), tuple(sorted(out))),
        lambda keys, children: cls(**dict(zip(keys, children))),
        namespace="keras",
    )
    if keras.backend.backend() == "jax":
        import jax

        jax.tree_util.register_pytree_with_keys(
            cls,
            lambda out: (tuple((jax.tree_util.DictKey(k), out[k]) for k in sorted(out)), tuple(sorted(out))),
            lambda keys, children: cls(**dict(zip(keys, children))),
            flatten_func=lambda out: (tuple(out[k] for k in sorted(out)), tuple(sorted(out))),
        )


#: what each field holds (shapes); `_output` writes the `Args:` of every output class from it.
_FIELD_DOCS = {
    "loss": "float32 scalar: the model's own loss, when labels were given.",
    "last_hidden_state": "[batch, length, hidden]: the last layer's output.",
    "pooler_output": "[batch, hidden]: tanh(dense(first token's state)), when the model has a pooler.",
    "past_key_values": "one (key, value) pair per layer, [batch, heads, length, head_dim] each (decoders, use_cache).",
    "hidden_states": "num_layers + 1 tensors [batch, length, hidden] (embeddings, then each layer), when asked.",
    "attentions": "num_layers tensors [batch, heads, length, length] of attention probabilities, when asked.",
    "cross_attentions": "num_layers tensors [batch, heads, length, source_length] (decoders with cross-attention).",
    "prediction_logits": "[batch, length, vocab_size] MLM scores ([batch, predictions, vocab_size] with "
                         "masked_lm_positions).",
    "seq_relationship_logits": "[batch, 2] NSP scores (0 = B follows A, 1 = B is random).",
    "start_logits": "[batch, length]: scores of each token as the answer's start.",
    "end_logits": "[batch, length]: scores of each token as the answer's end.",
}


def _output(name, fields, doc, logits=None):
    """An output class with these fields; its docstring is `doc` and `Args:` from `_FIELD_DOCS` (`logits`
    describes the field "logits")."""
    docs = {**_FIELD_DOCS, "logits": logits}
    fields = tuple(fields.split())
    args = "\n".join(f"        {f}: {docs[f]}" for f in fields)
    doc = f"{doc}\n\n    Args (each optional; fields left None are absent):\n{args}\n"
    return type(name, (ModelOutput,), {"_fields": fields, "__doc__": doc})


BaseModelOutputWithPoolingAndCrossAttentions = _output(
    "BaseModelOutputWithPoolingAndCrossAttentions",
    "last_hidden_state pooler_output past_key_values hidden_states attentions cross_attentions",
    "BertModel: last_hidden_state [batch, length, hidden], pooler_output [batch, hidden], and when asked "
    "past_key_values, hidden_states (num_layers + 1 tensors), attentions and cross_attentions "
    "([batch, heads, q_len, k_len] per layer).",
)
BertForPreTrainingOutput = _output(
    "BertForPreTrainingOutput",
    "loss prediction_logits seq_relationship_logits hidden_states attentions",
    "BertForPreTraining: loss (MLM + NSP, when labels are given), prediction_logits [batch, length, vocab], "
    "seq_relationship_logits [batch, 2].",
)
CausalLMOutputWithCrossAttentions = _output(
    "CausalLMOutputWithCrossAttentions",
    "loss logits past_key_values hidden_states attentions cross_attentions",
    "BertLMHeadModel: shifted next-token loss, logits [batch, length, vocab], past_key_values for decoding.",
    logits="[batch, length, vocab_size]: next-token scores at each position.",
)
MaskedLMOutput = _output(
    "MaskedLMOutput", "loss logits hidden_states attentions",
    "BertForMaskedLM: loss over positions whose label is not -100, logits [batch, length, vocab].",
    logits="[batch, length, vocab_size] ([batch, predictions, vocab_size] with masked_lm_positions).",
)
NextSentencePredictorOutput = _output(
    "NextSentencePredictorOutput", "loss logits hidden_states attentions",
    "BertForNextSentencePrediction: logits [batch, 2] (0 = B follows A, 1 = B is random).",
    logits="[batch, 2] NSP scores.",
)
SequenceClassifierOutput = _output(
    "SequenceClassifierOutput", "loss logits hidden_states attentions",
    "BertForSequenceClassification: logits [batch, num_labels].",
    logits="[batch, num_labels] (regression: [batch, 1]).",
)
MultipleChoiceModelOutput = _output(
    "MultipleChoiceModelOutput", "loss logits hidden_states attentions",
    "BertForMultipleChoice: logits [batch, num_choices].",
    logits="[batch, num_choices]: one score per choice.",
)
TokenClassifierOutput = _output(
    "TokenClassifierOutput", "loss logits hidden_states attentions",
    "BertForTokenClassification: logits [batch, length, num_labels].",
    logits="[batch, length, num_labels]: label scores of every token.",
)
QuestionAnsweringModelOutput = _output(
    "QuestionAnsweringModelOutput", "loss start_logits end_logits hidden_states attentions",
    "BertForQuestionAnswering: start_logits and end_logits [batch, length].",
)
