"""The call arguments of every model in this package, written once (as transformers' `BERT_INPUTS_DOCSTRING`).

`CALL_ARGUMENTS` is `BertPreTrainedModel.call`'s docstring, which every model class inherits; `document_model`
appends it, with the class's own labels, to a model class's docstring, so `help(BertForMaskedLM)` shows them.

Example:
    >>> from keras_bert_suite import BertForMaskedLM
    >>> "masked_lm_positions" in BertForMaskedLM.__doc__ and "input_ids" in BertForMaskedLM.call.__doc__
    True
"""

CALL_ARGUMENTS = """Run the model on a batch.

Inputs may come as a dict (`model({"input_ids": ids, ...})`), as keywords (`model(input_ids=ids)`), or as a
bare `input_ids` tensor; ids may be int32 or int64. Names a model does not take raise a `TypeError` naming them.

Args:
    inputs: a dict of the inputs below, or the `input_ids` tensor.
    input_ids: int [batch, length]: vocabulary ids ([batch, num_choices, length] for multiple choice).
    attention_mask: int or float [batch, length]: 1 for tokens to attend to, 0 for padding (a decoder with a
        cache: [batch, past_length + length]). Default: all ones.
    token_type_ids: int [batch, length]: segment ids, 0 for sentence A and 1 for sentence B. Default: zeros.
    position_ids: int [batch, length]: positions in the position embeddings. Default: 0 .. length - 1 (after
        the cached positions).
    head_mask: float [num_heads] or [num_layers, num_heads]: 1 keeps an attention head, 0 silences it.
    inputs_embeds: float [batch, length, hidden]: word embeddings to use instead of looking up `input_ids`.
    encoder_hidden_states: float [batch, source_length, hidden]: what the cross-attention of a decoder
        (`is_decoder=True`, `add_cross_attention=True`) attends to.
    encoder_attention_mask: int [batch, source_length]: the padding mask of `encoder_hidden_states`.
    past_key_values: the key/value cache returned by a previous call with `use_cache=True` (decoders only): one
        tuple per layer of float [batch, heads, past_length, head_dim] tensors.
    use_cache: return `past_key_values` for incremental decoding (decoders; default `config.use_cache`).
    output_attentions: also return every layer's attention probabilities [batch, heads, length, length].
    output_hidden_states: also return the embeddings and every layer's output [batch, length, hidden].
    return_dict: accepted for transformers compatibility; outputs are always output classes, which also read
        as tuples (`out[0]`).
    labels: the targets of the model's own loss (see the class docstring for their shape); the output then has
        `loss`.
    next_sentence_label: int [batch]: BertForPreTraining's NSP target (0 = B follows A, 1 = B is random).
    start_positions, end_positions: int [batch]: BertForQuestionAnswering's answer span; positions outside the
        sequence are ignored.
    masked_lm_positions: int [batch, predictions]: BertForPreTraining and BertForMaskedLM compute the MLM
        logits at these positions only (Google's layout; `labels` are then [batch, predictions]).
    training: run dropout (True in `fit`).

Returns:
    the model's output class (see `outputs.py`): a dict of the computed fields, readable as attributes.
"""


def document_model(labels):
    """Class decorator: append `labels` (the class's own targets) and `CALL_ARGUMENTS` to the class docstring.

    Args:
        labels: text naming the labels the class takes and their shapes.
    Returns:
        the decorator.
    """

    def decorate(cls):
        cls.__doc__ = (
            (cls.__doc__ or "").rstrip()
            + "\n\n    Labels: " + labels
            + "\n\n    Call (shared by every model, `BertPreTrainedModel.call`):\n\n"
            + "\n".join(("        " + line) if line else "" for line in CALL_ARGUMENTS.splitlines())
            + "\n"
        )
        return cls

    return decorate
