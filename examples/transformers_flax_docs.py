"""transformers 4.x's Flax BERT docstring examples, run on keras-bert-suite under Keras's JAX backend.

Each function is one example of `transformers/models/bert/modeling_flax_bert.py` (and the Flax templates of
`transformers/utils/doc.py` it fills in: FLAX_BASE_MODEL_SAMPLE, FLAX_MASKED_LM_SAMPLE, ...), with the same Hub
id and code. Only the import line differs:

    from transformers import AutoTokenizer, FlaxBertModel          # transformers 4.x
    from keras_bert_suite import AutoTokenizer, FlaxBertModel      # here

Each function returns the values the example computes (transformers' NSP example asserts that the second
sentence is random; here the logits are returned, as they depend on the weights found under the id).

The Hub id is fetched on first use into the Hugging Face cache (HF_HUB_CACHE / HF_HOME) and read from it
afterwards; with HF_HUB_OFFLINE=1 it must already be cached (tests/test_transformers_flax_docs.py seeds the
cache with the MiniLM checkpoint under it).

Run: KERAS_BACKEND=jax python examples/transformers_flax_docs.py        (prints what each example computes)
"""

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

from keras_bert_suite import (  # noqa: E402
    AutoTokenizer,
    FlaxBertForCausalLM,
    FlaxBertForMaskedLM,
    FlaxBertForMultipleChoice,
    FlaxBertForNextSentencePrediction,
    FlaxBertForPreTraining,
    FlaxBertForQuestionAnswering,
    FlaxBertForSequenceClassification,
    FlaxBertForTokenClassification,
    FlaxBertModel,
)

CHECKPOINT_FOR_DOC = "google-bert/bert-base-uncased"
HUB_IDS = (CHECKPOINT_FOR_DOC,)


def base_model():
    """FlaxBertModel (FLAX_BASE_MODEL_SAMPLE). Returns last_hidden_states [1, tokens, hidden]."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = FlaxBertModel.from_pretrained("google-bert/bert-base-uncased")

    inputs = tokenizer("Hello, my dog is cute", return_tensors="jax")
    outputs = model(**inputs)

    last_hidden_states = outputs.last_hidden_state
    return last_hidden_states


def pretraining():
    """FlaxBertForPreTraining's example. Returns (prediction_logits, seq_relationship_logits)."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = FlaxBertForPreTraining.from_pretrained("google-bert/bert-base-uncased")

    inputs = tokenizer("Hello, my dog is cute", return_tensors="np")
    outputs = model(**inputs)

    prediction_logits = outputs.prediction_logits
    seq_relationship_logits = outputs.seq_relationship_logits
    return prediction_logits, seq_relationship_logits


def masked_lm():
    """FlaxBertForMaskedLM (FLAX_MASKED_LM_SAMPLE, mask "[MASK]"). Returns logits [1, tokens, vocab]."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = FlaxBertForMaskedLM.from_pretrained("google-bert/bert-base-uncased")

    inputs = tokenizer("The capital of France is [MASK].", return_tensors="jax")

    outputs = model(**inputs)
    logits = outputs.logits
    return logits


def causal_lm():
    """FlaxBertForCausalLM (FLAX_CAUSAL_LM_SAMPLE). Returns next_token_logits [1, vocab]."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = FlaxBertForCausalLM.from_pretrained("google-bert/bert-base-uncased")

    inputs = tokenizer("Hello, my dog is cute", return_tensors="np")
    outputs = model(**inputs)

    # retrieve logts for next token
    next_token_logits = outputs.logits[:, -1]
    return next_token_logits


def next_sentence_prediction():
    """FlaxBertForNextSentencePrediction's example. Returns logits [1, 2]."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = FlaxBertForNextSentencePrediction.from_pretrained("google-bert/bert-base-uncased")

    prompt = "In Italy, pizza served in formal settings, such as at a restaurant, is presented unsliced."
    next_sentence = "The sky is blue due to the shorter wavelength of blue light."
    encoding = tokenizer(prompt, next_sentence, return_tensors="jax")

    outputs = model(**encoding)
    logits = outputs.logits
    return logits


def sequence_classification():
    """FlaxBertForSequenceClassification (FLAX_SEQUENCE_CLASSIFICATION_SAMPLE). Returns logits [1, 2]."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = FlaxBertForSequenceClassification.from_pretrained("google-bert/bert-base-uncased")

    inputs = tokenizer("Hello, my dog is cute", return_tensors="jax")

    outputs = model(**inputs)
    logits = outputs.logits
    return logits


def multiple_choice():
    """FlaxBertForMultipleChoice (FLAX_MULTIPLE_CHOICE_SAMPLE). Returns logits [1, 2]."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = FlaxBertForMultipleChoice.from_pretrained("google-bert/bert-base-uncased")

    prompt = "In Italy, pizza served in formal settings, such as at a restaurant, is presented unsliced."
    choice0 = "It is eaten with a fork and a knife."
    choice1 = "It is eaten while held in the hand."

    encoding = tokenizer([prompt, prompt], [choice0, choice1], return_tensors="jax", padding=True)
    outputs = model(**{k: v[None, :] for k, v in encoding.items()})

    logits = outputs.logits
    return logits


def token_classification():
    """FlaxBertForTokenClassification (FLAX_TOKEN_CLASSIFICATION_SAMPLE). Returns logits [1, tokens, 2]."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = FlaxBertForTokenClassification.from_pretrained("google-bert/bert-base-uncased")

    inputs = tokenizer("Hello, my dog is cute", return_tensors="jax")

    outputs = model(**inputs)
    logits = outputs.logits
    return logits


def question_answering():
    """FlaxBertForQuestionAnswering (FLAX_QUESTION_ANSWERING_SAMPLE). Returns (start_scores, end_scores)."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = FlaxBertForQuestionAnswering.from_pretrained("google-bert/bert-base-uncased")

    question, text = "Who was Jim Henson?", "Jim Henson was a nice puppet"
    inputs = tokenizer(question, text, return_tensors="jax")

    outputs = model(**inputs)
    start_scores = outputs.start_logits
    end_scores = outputs.end_logits
    return start_scores, end_scores


EXAMPLES = (base_model, pretraining, masked_lm, causal_lm, next_sentence_prediction, sequence_classification,
            multiple_choice, token_classification, question_answering)


if __name__ == "__main__":
    for example in EXAMPLES:
        result = example()
        shapes = [tuple(x.shape) for x in result] if isinstance(result, tuple) else tuple(result.shape)
        print(f"{example.__name__}: {shapes}")
