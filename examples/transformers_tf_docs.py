"""transformers 4.x's TensorFlow BERT docstring examples, run on keras-bert-suite.

Each function is one example of `transformers/models/bert/modeling_tf_bert.py` (and the shared templates of
`transformers/utils/doc.py` it fills in), with the same Hub ids and code. Only the import line differs:

    from transformers import AutoTokenizer, TFBertModel          # transformers 4.x
    from keras_bert_suite import AutoTokenizer, TFBertModel      # here

Where transformers' doctest prints a value of its checkpoint (`'LABEL_1'`, `'paris'`, a loss of 0.88), the
function returns it instead: the values depend on the weights found under the id.

The Hub ids are fetched on first use into the Hugging Face cache (HF_HUB_CACHE / HF_HOME) and read from it
afterwards; with HF_HUB_OFFLINE=1 they must already be cached (tests/test_transformers_tf_docs.py seeds the cache
with the MiniLM checkpoint under each id).

Run: python examples/transformers_tf_docs.py        (prints what each example computes)
"""

import tensorflow as tf

from keras_bert_suite import (
    AutoTokenizer,
    TFBertForMaskedLM,
    TFBertForMultipleChoice,
    TFBertForNextSentencePrediction,
    TFBertForPreTraining,
    TFBertForQuestionAnswering,
    TFBertForSequenceClassification,
    TFBertForTokenClassification,
    TFBertLMHeadModel,
    TFBertModel,
)

CHECKPOINT_FOR_DOC = "google-bert/bert-base-uncased"
CHECKPOINT_FOR_TOKEN_CLASSIFICATION = "dbmdz/bert-large-cased-finetuned-conll03-english"
CHECKPOINT_FOR_QA = "ydshieh/bert-base-cased-squad2"
CHECKPOINT_FOR_SEQUENCE_CLASSIFICATION = "ydshieh/bert-base-uncased-yelp-polarity"
HUB_IDS = (CHECKPOINT_FOR_DOC, CHECKPOINT_FOR_TOKEN_CLASSIFICATION, CHECKPOINT_FOR_QA,
           CHECKPOINT_FOR_SEQUENCE_CLASSIFICATION)


def base_model():
    """TFBertModel (TF_BASE_MODEL_SAMPLE). Returns last_hidden_states [1, tokens, hidden]."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = TFBertModel.from_pretrained("google-bert/bert-base-uncased")

    inputs = tokenizer("Hello, my dog is cute", return_tensors="tf")
    outputs = model(inputs)

    last_hidden_states = outputs.last_hidden_state
    return last_hidden_states


def pretraining():
    """TFBertForPreTraining.call's example. Returns (prediction_logits, seq_relationship_logits)."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = TFBertForPreTraining.from_pretrained("google-bert/bert-base-uncased")
    input_ids = tokenizer("Hello, my dog is cute", add_special_tokens=True, return_tensors="tf")
    # Batch size 1

    outputs = model(input_ids)
    prediction_logits, seq_relationship_logits = outputs[:2]
    return prediction_logits, seq_relationship_logits


def masked_lm():
    """TFBertForMaskedLM (TF_MASKED_LM_SAMPLE). Returns (the predicted word, the loss); bert-base-uncased gives
    ('paris', 0.88)."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = TFBertForMaskedLM.from_pretrained("google-bert/bert-base-uncased")

    inputs = tokenizer("The capital of France is [MASK].", return_tensors="tf")
    logits = model(**inputs).logits

    # retrieve index of [MASK]
    mask_token_index = tf.where((inputs.input_ids == tokenizer.mask_token_id)[0])
    selected_logits = tf.gather_nd(logits[0], indices=mask_token_index)

    predicted_token_id = tf.math.argmax(selected_logits, axis=-1)
    predicted = tokenizer.decode(predicted_token_id)

    labels = tokenizer("The capital of France is Paris.", return_tensors="tf")["input_ids"]
    # mask labels of non-[MASK] tokens
    labels = tf.where(inputs.input_ids == tokenizer.mask_token_id, labels, -100)

    outputs = model(**inputs, labels=labels)
    return predicted, round(float(outputs.loss), 2)


def causal_lm():
    """TFBertLMHeadModel (TF_CAUSAL_LM_SAMPLE). Returns logits [1, tokens, vocab]."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = TFBertLMHeadModel.from_pretrained("google-bert/bert-base-uncased")

    inputs = tokenizer("Hello, my dog is cute", return_tensors="tf")
    outputs = model(inputs)
    logits = outputs.logits
    return logits


def next_sentence_prediction():
    """TFBertForNextSentencePrediction.call's example. Returns logits [1, 2]; with bert-base-uncased
    logits[0][0] < logits[0][1] (the next sentence was random)."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = TFBertForNextSentencePrediction.from_pretrained("google-bert/bert-base-uncased")

    prompt = "In Italy, pizza served in formal settings, such as at a restaurant, is presented unsliced."
    next_sentence = "The sky is blue due to the shorter wavelength of blue light."
    encoding = tokenizer(prompt, next_sentence, return_tensors="tf")

    logits = model(encoding["input_ids"], token_type_ids=encoding["token_type_ids"])[0]
    return logits


def sequence_classification():
    """TFBertForSequenceClassification (TF_SEQUENCE_CLASSIFICATION_SAMPLE). Returns (the predicted label, the
    loss); ydshieh/bert-base-uncased-yelp-polarity gives ('LABEL_1', 0.01)."""
    tokenizer = AutoTokenizer.from_pretrained("ydshieh/bert-base-uncased-yelp-polarity")
    model = TFBertForSequenceClassification.from_pretrained("ydshieh/bert-base-uncased-yelp-polarity")

    inputs = tokenizer("Hello, my dog is cute", return_tensors="tf")

    logits = model(**inputs).logits

    predicted_class_id = int(tf.math.argmax(logits, axis=-1)[0])
    predicted = model.config.id2label[predicted_class_id]

    # To train a model on `num_labels` classes, you can pass `num_labels=num_labels` to `.from_pretrained(...)`
    num_labels = len(model.config.id2label)
    model = TFBertForSequenceClassification.from_pretrained(
        "ydshieh/bert-base-uncased-yelp-polarity", num_labels=num_labels
    )

    labels = tf.constant(1)
    loss = model(**inputs, labels=labels).loss
    return predicted, round(float(loss), 2)


def multiple_choice():
    """TFBertForMultipleChoice (TF_MULTIPLE_CHOICE_SAMPLE). Returns logits [1, 2]."""
    tokenizer = AutoTokenizer.from_pretrained("google-bert/bert-base-uncased")
    model = TFBertForMultipleChoice.from_pretrained("google-bert/bert-base-uncased")

    prompt = "In Italy, pizza served in formal settings, such as at a restaurant, is presented unsliced."
    choice0 = "It is eaten with a fork and a knife."
    choice1 = "It is eaten while held in the hand."

    encoding = tokenizer([prompt, prompt], [choice0, choice1], return_tensors="tf", padding=True)
    inputs = {k: tf.expand_dims(v, 0) for k, v in encoding.items()}
    outputs = model(inputs)  # batch size is 1

    # the linear classifier still needs to be trained
    logits = outputs.logits
    return logits


def token_classification():
    """TFBertForTokenClassification (TF_TOKEN_CLASSIFICATION_SAMPLE). Returns (the predicted class of each
    token, the loss); dbmdz/bert-large-cased-finetuned-conll03-english gives ['O', 'I-ORG', ..., 'I-LOC'], 0.01."""
    tokenizer = AutoTokenizer.from_pretrained("dbmdz/bert-large-cased-finetuned-conll03-english")
    model = TFBertForTokenClassification.from_pretrained("dbmdz/bert-large-cased-finetuned-conll03-english")

    inputs = tokenizer(
        "HuggingFace is a company based in Paris and New York", add_special_tokens=False, return_tensors="tf"
    )

    logits = model(**inputs).logits
    predicted_token_class_ids = tf.math.argmax(logits, axis=-1)

    # Note that tokens are classified rather then input words which means that
    # there might be more predicted token classes than words.
    # Multiple token classes might account for the same word
    predicted_tokens_classes = [model.config.id2label[t] for t in predicted_token_class_ids[0].numpy().tolist()]

    labels = predicted_token_class_ids
    loss = tf.math.reduce_mean(model(**inputs, labels=labels).loss)
    return predicted_tokens_classes, round(float(loss), 2)


def question_answering():
    """TFBertForQuestionAnswering (TF_QUESTION_ANSWERING_SAMPLE). Returns (the answer, the loss);
    ydshieh/bert-base-cased-squad2 gives ('a nice puppet', 7.41)."""
    tokenizer = AutoTokenizer.from_pretrained("ydshieh/bert-base-cased-squad2")
    model = TFBertForQuestionAnswering.from_pretrained("ydshieh/bert-base-cased-squad2")

    question, text = "Who was Jim Henson?", "Jim Henson was a nice puppet"

    inputs = tokenizer(question, text, return_tensors="tf")
    outputs = model(**inputs)

    answer_start_index = int(tf.math.argmax(outputs.start_logits, axis=-1)[0])
    answer_end_index = int(tf.math.argmax(outputs.end_logits, axis=-1)[0])

    predict_answer_tokens = inputs.input_ids[0, answer_start_index : answer_end_index + 1]
    answer = tokenizer.decode(predict_answer_tokens)

    # target is "nice puppet"
    target_start_index = tf.constant([14])
    target_end_index = tf.constant([15])

    outputs = model(**inputs, start_positions=target_start_index, end_positions=target_end_index)
    loss = tf.math.reduce_mean(outputs.loss)
    return answer, round(float(loss), 2)


EXAMPLES = (base_model, pretraining, masked_lm, causal_lm, next_sentence_prediction, sequence_classification,
            multiple_choice, token_classification, question_answering)


if __name__ == "__main__":
    for example in EXAMPLES:
        result = example()
        shapes = tf.nest.map_structure(lambda x: tuple(x.shape) if hasattr(x, "shape") else x, result)
        print(f"{example.__name__}: {shapes}")
