"""Serving signatures per task: strings in, answers out.

`build_signatures(model, tokenizer, task, options)` returns `[(name, tf.function)]`, `serving_default` first.
Each function tokenizes with the in-graph tokenizer, runs the model through `options.run` (an XLA-compiled
function when `jit_compile`), and post-processes with `postprocess.py`.
"""

import dataclasses

import numpy as np
import tensorflow as tf

from keras_bert_suite.export import entities, postprocess
from keras_bert_suite.export.qa_answers import pipeline_answers
from keras_bert_suite.export.length_sorted import run_by_length, run_whole
from keras_bert_suite.export.windows import qa_features
from keras_bert_suite.layers.sentence_pooling import check_modes, pool_tokens

TASKS = (
    "sequence_classification", "token_classification", "question_answering", "masked_lm",
    "next_sentence_prediction", "multiple_choice", "feature_extraction", "causal_lm",
)


def task_of(model, task=None):
    """The serving task of `model`: its class attribute `serving_task` (or check the `task` asked for)."""
    if task is None:
        task = getattr(model, "serving_task", None)
        if task is None:
            raise ValueError(f"no serving task for {type(model).__name__}; pass task= one of {TASKS}")
    if task not in TASKS:
        raise ValueError(f"unknown task {task!r}; known tasks: {TASKS}")
    return task


# export options renamed to the pipeline's names: old name -> new name (refused with the new name)
RENAMED = {"max_answer_tokens": "max_answer_len", "max_question_tokens": "max_question_len"}


@dataclasses.dataclass
class ExportOptions:
    """The settings of a serving signature; the pipelines' options carry the pipeline's name and default
    (savedmodels/README.md lists them).

    Example:
        >>> ExportOptions(aggregation_strategy="first", top_k=3).k(1)
        3
    """
    max_length: int = None  # tokens per input (QA: per window); None: max_seq_len, else 128
    pad_to_multiple_of: int = 8  # padded lengths (of the batch and of each chunk) are multiples of this
    top_k: int = None  # None: the pipeline's default (fill-mask 5, text classification 1, QA 1; causal_lm 5)
    function_to_apply: str = None  # text classification: "softmax", "sigmoid", "none"; None: the pipeline's rule
    aggregation_strategy: str = "none"  # token classification: one of entities.STRATEGIES (see savedmodels/README)
    align_to_words: bool = True  # QA, pipeline rules (qa_answers.py): answers widened to whole words
    handle_impossible_answer: bool = False  # QA, pipeline rules: the empty answer competes with its null score
    max_seq_len: int = None  # QA: the pipeline's name for max_length (give one of them)
    doc_stride: int = None  # tokens shared by neighbouring QA windows; None: the pipeline's min(max_length // 2, 128)
    max_question_len: int = 64  # QA: word pieces of the question kept
    max_answer_len: int = 15  # QA: most tokens in an answer
    max_context_tokens: int = 16384  # QA: word pieces per context; a longer one is refused (None: no limit)
    normalize_embeddings: bool = True
    pooling: tuple = ("mean",)  # embeddings: sentence-transformers pooling modes, concatenated in this order
    max_new_tokens: int = 20
    do_sample: bool = False
    jit_compile: bool = True
    chunk_size: int = 8  # rows per model call, sorted by length (see length_sorted.py); 0: the whole batch
    chunk_tokens: int = 1024  # rows x padded length allowed to chunks above chunk_size rows; 0: none such

    def __post_init__(self):
        if self.max_seq_len is not None and self.max_length is not None and self.max_seq_len != self.max_length:
            raise ValueError(f"max_seq_len ({self.max_seq_len}) is the pipeline's name for max_length "
                             f"({self.max_length}): give one of them")
        self.max_length = self.max_length or self.max_seq_len or 128
        self.max_seq_len = self.max_length
        for name in ("max_length", "chunk_size", "chunk_tokens", "pad_to_multiple_of", "top_k", "max_context_tokens", "doc_stride",
                     "max_question_len", "max_answer_len"):
            value = getattr(self, name)
            positive = name in ("max_length", "top_k", "max_question_len", "max_answer_len")
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < positive):
                raise ValueError(f"{name} must be a {'positive' if positive else 'non-negative'} integer, "
                                 f"got {value!r}")
        if self.doc_stride is not None and self.doc_stride > self.max_length:
            raise ValueError(f"doc_stride ({self.doc_stride}) is larger than max_seq_len / max_length "
                             f"({self.max_length})")
        self.pooling = check_modes(self.pooling)
        if self.aggregation_strategy not in entities.STRATEGIES:
            raise ValueError(f"aggregation_strategy must be one of {entities.STRATEGIES}, "
                             f"got {self.aggregation_strategy!r}")
        if self.function_to_apply not in (None, "softmax", "sigmoid", "none"):
            raise ValueError(f"function_to_apply must be None, 'softmax', 'sigmoid' or 'none', "
                             f"got {self.function_to_apply!r}")
        for name in ("align_to_words", "handle_impossible_answer"):
            if not isinstance(getattr(self, name), bool):
                raise ValueError(f"{name} must be True or False, got {getattr(self, name)!r}")

    @property
    def stride(self):
        """QA windows' doc_stride: the option, or the pipeline's default min(max_length // 2, 128)."""
        return min(self.max_length // 2, 128) if self.doc_stride is None else self.doc_stride

    def k(self, default):
        """top_k, or the task's `default` when it is None."""
        return default if self.top_k is None else self.top_k


def _strings(name, rank=1):
    return tf.TensorSpec([None] * rank, tf.string, name=name)


class _Builder:
    def __init__(self, model, tokenizer, options):
        self.model, self.options = model, options
        self.vocab = list(tokenizer.vocab)
        common = dict(max_length=options.max_length, truncation=True, padding="longest",
                      pad_to_multiple_of=options.pad_to_multiple_of)
        self.tokenizers = []
        self.tokenizer = self.variant(tokenizer, **common, return_offsets_mapping=True,
                                      return_special_tokens_mask=True)

        @tf.function(jit_compile=options.jit_compile, reduce_retracing=True)
        def run(input_ids, attention_mask, token_type_ids):
            out = model({"input_ids": input_ids, "attention_mask": attention_mask,
                         "token_type_ids": token_type_ids}, training=False)
            return {k: v for k, v in out.items() if isinstance(v, tf.Tensor)}

        self.run = run

    def variant(self, tokenizer, **settings):
        """A copy of `tokenizer` with other settings, built (so it can be tracked for export)."""
        tok = tokenizer.with_settings(**settings)
        tok.build(None)
        self.tokenizers.append(tok)
        return tok

    def encode(self, text, text_pair=None, token_keys=()):
        """Tokenize and run the model; `token_keys`: the outputs with a sequence axis."""
        enc = self.tokenizer(text, text_pair)
        return enc, self.run_features(enc, token_keys)

    def run_features(self, features, token_keys=(), run=None):
        """The model on tokenized `features`, through `run` (default: the compiled model function)."""
        inputs = [features[k] for k in ("input_ids", "attention_mask", "token_type_ids")]
        o = self.options
        run = run or self.run
        if not o.chunk_size:
            return run_whole(run, *inputs, token_keys=token_keys)
        return run_by_length(run, *inputs, chunk_size=o.chunk_size, multiple=o.pad_to_multiple_of or 1,
                             token_keys=token_keys, chunk_tokens=o.chunk_tokens)

    # ----- one method per task -----
    def sequence_classification(self):
        config = self.model.config
        names = tf.constant([config.id2label[i] for i in range(config.num_labels)])
        function = self.options.function_to_apply or classification_function(config)
        k = min(self.options.k(1), config.num_labels)

        def answer(logits):
            scores = tf.cast(logits, tf.float32)
            if function == "softmax":
                scores = tf.nn.softmax(scores, axis=-1)
            elif function == "sigmoid":
                scores = tf.sigmoid(scores)
            top_scores, top = tf.math.top_k(scores, k=k)
            return {"logits": logits, "probabilities": scores, "label": tf.gather(names, top[:, 0]),
                    "score": top_scores[:, 0], "top_labels": tf.gather(names, top), "top_scores": top_scores}

        @tf.function(input_signature=[_strings("text")])
        def single(text):
            return answer(self.encode(text)[1]["logits"])

        @tf.function(input_signature=[_strings("text"), _strings("text_pair")])
        def pair(text, text_pair):
            return answer(self.encode(text, text_pair)[1]["logits"])

        return [("serving_default", single), ("pair", pair)]

    def token_classification(self):
        config = self.model.config
        id2label = {i: config.id2label[i] for i in range(config.num_labels)}
        names = tf.constant([id2label[i] for i in range(config.num_labels)])
        strategy = self.options.aggregation_strategy

        @tf.function(input_signature=[_strings("text")])
        def tag(text):
            enc, out = self.encode(text, token_keys=("logits",))
            probs = tf.nn.softmax(tf.cast(out["logits"], tf.float32), axis=-1)
            real = tf.logical_and(tf.equal(enc["attention_mask"], 1), tf.equal(enc["special_tokens_mask"], 0))
            subword = entities.subword_flags(enc["input_ids"], enc["offset_mapping"], self.vocab,
                                             self.tokenizer.unk_token)
            result = entities.aggregate_entities(text, probs, enc["offset_mapping"], real, subword, id2label,
                                                 strategy)
            token_label = tf.gather(names, tf.argmax(probs, axis=-1, output_type=tf.int32))
            result["token_labels"] = tf.where(real, token_label, "")
            result["token_start"] = tf.where(real, enc["offset_mapping"][..., 0], -1)
            result["token_end"] = tf.where(real, enc["offset_mapping"][..., 1], -1)
            return result

        return [("serving_default", tag)]

    def question_answering(self):
        o = self.options
        is_cont = np.array([t.startswith("##") for t in self.vocab])

        @tf.function(input_signature=[_strings("question"), _strings("context")])
        def answer(question, context):
            feats = qa_features(self.tokenizer, question, context, max_length=o.max_length,
                                doc_stride=o.stride, max_question_tokens=o.max_question_len,
                                pad_to_multiple_of=o.pad_to_multiple_of, max_context_tokens=o.max_context_tokens)
            out = self.run_features(feats, token_keys=("start_logits", "end_logits"))
            # an empty question (no word piece) gets the empty answer, as an empty context does
            real = tf.cast(feats["attention_mask"], tf.int32) * (1 - feats["token_type_ids"])
            asked = tf.math.unsorted_segment_max(tf.reduce_sum(real, axis=1) - 2, feats["example_ids"],
                                                 tf.shape(context)[0]) > 0
            return pipeline_answers(out["start_logits"], out["end_logits"], feats, context, is_cont,
                                    o.max_answer_len, o.align_to_words, o.handle_impossible_answer, asked, o.k(1))

        return [("serving_default", answer)]

    def masked_lm(self):
        mask_id = self.vocab.index(self.tokenizer.mask_token)
        # the MLM logits come first among the model's predictions ("prediction_logits" for BertForPreTraining)
        logits_key = self.model.prediction_keys[0]

        @tf.function(input_signature=[_strings("text")])
        def fill(text):
            enc, out = self.encode(text, token_keys=(logits_key,))
            return postprocess.top_k_masks(out[logits_key], enc["input_ids"], mask_id, self.vocab,
                                         min(self.options.k(5), len(self.vocab)))

        return [("serving_default", fill)]

    def next_sentence_prediction(self):
        @tf.function(input_signature=[_strings("text"), _strings("text_pair")])
        def is_next(text, text_pair):
            logits = self.encode(text, text_pair)[1]["logits"]
            return {"is_next": tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)[:, 0], "logits": logits}

        return [("serving_default", is_next)]

    def multiple_choice(self):
        def one_choice(input_ids, attention_mask, token_type_ids):
            out = self.run(input_ids[:, None], attention_mask[:, None], token_type_ids[:, None])
            return {"logits": out["logits"][:, 0]}

        @tf.function(input_signature=[_strings("question"), _strings("choices", rank=2)])
        def choose(question, choices):
            n = tf.shape(choices)[1]
            firsts = tf.reshape(tf.repeat(question[:, None], n, axis=1), [-1])
            enc = self.tokenizer(firsts, tf.reshape(choices, [-1]))
            if self.options.chunk_size:
                # every (question, choice) row on its own, as [rows, 1 choice, length]: the model scores each
                # choice alone, so rows sort and chunk as in the other tasks and the compiled shapes do not
                # depend on the number of choices
                scores = self.run_features(enc, run=one_choice)["logits"]
                out = {"logits": tf.reshape(scores, tf.shape(choices))}
            else:
                shape = tf.stack([tf.shape(choices)[0], n, tf.shape(enc["input_ids"])[1]])
                out = run_whole(self.run, *(tf.reshape(enc[k], shape)
                                            for k in ("input_ids", "attention_mask", "token_type_ids")))
            probs = tf.nn.softmax(tf.cast(out["logits"], tf.float32), axis=-1)
            return {"logits": out["logits"], "probabilities": probs,
                    "choice": tf.argmax(probs, axis=-1, output_type=tf.int32)}

        return [("serving_default", choose)]

    def feature_extraction(self):
        normalize = self.options.normalize_embeddings

        @tf.function(input_signature=[_strings("text")])
        def embed(text):
            enc, out = self.encode(text, token_keys=("last_hidden_state",))
            pooled = pool_tokens(out["last_hidden_state"], enc["attention_mask"], self.options.pooling)
            if normalize:
                pooled = tf.math.l2_normalize(pooled, axis=-1)
            result = {"sentence_embedding": pooled}
            if "pooler_output" in out:
                result["pooler_output"] = out["pooler_output"]
            return result

        return [("serving_default", embed)]

    def causal_lm(self):
        o = self.options
        tok = self.tokenizer
        prompt_tokenizer = self.variant(tok, add_special_tokens=False, padding_side="left", pad_to_multiple_of=None)
        specials = [tok.cls_token_id, tok.sep_token_id, tok.pad_token_id]

        @tf.function(input_signature=[_strings("prompt")])
        def generate(prompt):
            enc = prompt_tokenizer(prompt)
            cls = tf.fill([tf.shape(prompt)[0], 1], tok.cls_token_id)
            ids = tf.concat([cls, enc["input_ids"]], axis=1)
            mask = tf.concat([tf.ones_like(cls), enc["attention_mask"]], axis=1)
            out = self.model.generate(ids, attention_mask=mask, max_new_tokens=o.max_new_tokens,
                                      do_sample=o.do_sample, top_k=o.k(5), pad_token_id=tok.pad_token_id)
            new = out[:, tf.shape(ids)[1]:]
            return {"text": postprocess.decode_ids(new, self.vocab, specials), "token_ids": new}

        return [("serving_default", generate)]


def classification_function(config):
    """The text-classification pipeline's default `function_to_apply` for a model config: "none" for
    regression, "sigmoid" for multi-label or a single label, else "softmax"."""
    if config.problem_type == "regression":
        return "none"
    if config.problem_type == "multi_label_classification" or config.num_labels == 1:
        return "sigmoid"
    return "softmax"


def build_signatures(model, tokenizer, task, options):
    """([(signature name, tf.function)], [tokenizer layers the functions use])."""
    builder = _Builder(model, tokenizer, options)
    return getattr(builder, task)(), builder.tokenizers
