"""Raw-text SavedModel signatures answer as transformers' PyTorch pipelines do, row by row, from the same weights
and settings: token classification per `aggregation_strategy` on CoNLL-2003 sentences, text classification per
`function_to_apply` / `top_k` on SST-2 sentences, fill-mask per `top_k`, question answering on SQuAD questions.

The PyTorch model is built first (the real MiniLM encoder with a seeded random head, scaled so that labels vary),
written with `save_pretrained`, and read back by this package: both sides hold the same weights. Token
classification's default is exported and served from the SavedModel; the other settings run the same signature
functions eagerly (tracing and saving one costs a minute or more on 2 cores, running it eagerly ~7 s).
"""

import contextlib
import os

import numpy as np
import pytest
import tensorflow as tf

import keras_bert_suite as kbs
from keras_bert_suite.data import read_conll
from helpers import SHARED_DATA, minilm_folder, sst2_sentences
from keras_bert_suite.export import export_saved_model
from keras_bert_suite.export.signatures import ExportOptions, build_signatures
from keras_bert_suite.tokenizers import BertTokenizer, TFBertTokenizer

CONLL = ["O", "B-PER", "I-PER", "B-ORG", "I-ORG", "B-LOC", "I-LOC", "B-MISC", "I-MISC"]
ROWS = 64
MAX_LENGTH = 128


def conll_sentences(n):
    """The first `n` sentences of CoNLL-2003 valid.txt, words joined by spaces."""
    sentences = read_conll(os.path.join(SHARED_DATA, "conll2003", "valid.txt"), limit=n)["tokens"]
    return [" ".join(words) for words in sentences]


TINY = dict(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37)


def _torch_pair(tmp_path, class_name, head, scale, seed=0, tiny=False, **config):
    """(PyTorch model, our model) with the MiniLM encoder (or, `tiny`, a seeded 2-layer encoder of hidden size 32
    on MiniLM's vocabulary) and a seeded head of `head` parameters times `scale`."""
    import torch
    import transformers

    torch.manual_seed(seed)
    cls = getattr(transformers, class_name)
    model = (cls(transformers.BertConfig(**TINY, **config)) if tiny
             else cls.from_pretrained(minilm_folder(), **config)).eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith(head):
                param.copy_(torch.randn_like(param) * scale)
    folder = str(tmp_path / class_name)
    model.save_pretrained(folder)
    return model, getattr(kbs, class_name).from_pretrained(folder)


@pytest.fixture(scope="module")
def tools():
    import transformers

    return transformers, transformers.AutoTokenizer.from_pretrained(minilm_folder()), \
        BertTokenizer.from_pretrained(minilm_folder())


@contextlib.contextmanager
def _eager():
    tf.config.run_functions_eagerly(True)
    try:
        yield
    finally:
        tf.config.run_functions_eagerly(False)


def _answer(model, tokenizer, folder, inputs, exported=False, **options):
    """The serving_default answers for `inputs`: from an exported SavedModel, or the signature function eagerly."""
    if exported:
        path = export_saved_model(model, tokenizer, folder, jit_compile=False, warmup=False, **options)
        return _plain(tf.saved_model.load(path).signatures["serving_default"](**inputs))
    signatures, _ = build_signatures(model, TFBertTokenizer.coerce(tokenizer), model.serving_task,
                                     ExportOptions(jit_compile=False, **options))
    with _eager():
        return _plain(dict(signatures)["serving_default"](**inputs))


def _plain(result):
    return {k: v.numpy().tolist() for k, v in result.items()}


def _rows_equal(ours, theirs, close):
    """Rows (lists of tuples: exact fields then a float last) equal, the float within `close`."""
    if len(ours) != len(theirs):
        return False
    return all(a[:-1] == b[:-1] and abs(a[-1] - b[-1]) <= close for a, b in zip(ours, theirs))


# ------------------------------------------------------------------------------------------ token classification
@pytest.fixture(scope="module")
def ner(tmp_path_factory, tools):
    tmp = tmp_path_factory.mktemp("ner")
    transformers, fast, ours_tok = tools
    pt, ours = _torch_pair(tmp, "BertForTokenClassification", "classifier", 0.3, num_labels=len(CONLL),
                           id2label=dict(enumerate(CONLL)), label2id={n: i for i, n in enumerate(CONLL)})
    return transformers, fast, pt, ours, ours_tok, tmp


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["none", "simple", "first", "average", "max"])
def test_token_classification_matches_pipeline(ner, strategy):
    transformers, fast, pt, model, tokenizer, tmp = ner
    texts = conll_sentences(ROWS)
    # the default ("none", the pipeline's) from the SavedModel, the others eagerly
    options = {} if strategy == "none" else {"aggregation_strategy": strategy}
    got = _answer(model, tokenizer, tmp / strategy, {"text": tf.constant(texts)}, exported=strategy == "none",
                  max_length=MAX_LENGTH, **options)
    pipe = transformers.pipeline("token-classification", model=pt, tokenizer=fast, **options)
    equal = entities = 0
    for row, want in enumerate(pipe(texts)):
        theirs = [(e["start"], e["end"], e.get("entity_group", e.get("entity")), float(e["score"])) for e in want]
        n = got["num_entities"][row]
        mine = [(got["entity_start"][row][i], got["entity_end"][row][i], got["entity_label"][row][i].decode(),
                 got["entity_score"][row][i]) for i in range(n)]
        assert [got["entity_text"][row][i].decode() for i in range(n)] == [texts[row][s:e] for s, e, _, _ in mine]
        equal += _rows_equal(mine, theirs, 1e-4)
        entities += len(theirs)
    print(f"token classification {strategy}: {equal}/{len(texts)} rows equal, {entities} entities")
    assert entities > len(texts)  # non-trivial: more than one entity a sentence on average
    assert equal == len(texts)


# ------------------------------------------------------------------------------------------- text classification
@pytest.fixture(scope="module")
def sst2(tmp_path_factory, tools):
    tmp = tmp_path_factory.mktemp("sst2")
    transformers, fast, ours_tok = tools
    pt, ours = _torch_pair(tmp, "BertForSequenceClassification", "classifier", 0.3, num_labels=3,
                           id2label={0: "negative", 1: "neutral", 2: "positive"})
    return transformers, fast, pt, ours, ours_tok, tmp


@pytest.mark.slow
@pytest.mark.parametrize("function_to_apply, top_k", [(None, None), ("sigmoid", 2), ("none", 3)])
def test_text_classification_matches_pipeline(sst2, function_to_apply, top_k):
    transformers, fast, pt, model, tokenizer, tmp = sst2
    texts = sst2_sentences(ROWS)
    got = _answer(model, tokenizer, tmp, {"text": tf.constant(texts)}, max_length=MAX_LENGTH,
                  function_to_apply=function_to_apply, top_k=top_k)
    pipe = transformers.pipeline("text-classification", model=pt, tokenizer=fast)
    settings = {"top_k": 1 if top_k is None else top_k}
    if function_to_apply is not None:
        settings["function_to_apply"] = function_to_apply
    equal = 0
    for row, want in enumerate(pipe(texts, **settings)):
        theirs = [(w["label"], w["score"]) for w in want]
        mine = list(zip((t.decode() for t in got["top_labels"][row]), got["top_scores"][row]))
        equal += _rows_equal(mine, theirs, 1e-5)
        assert (got["label"][row].decode(), got["score"][row]) == mine[0]
    print(f"text classification {function_to_apply} top_k={top_k}: {equal}/{len(texts)} rows equal")
    assert equal == len(texts)


# ------------------------------------------------------------------------------------------------------ fill-mask
FILL = [
    "the capital of france is [MASK] .", "a [MASK] film about love and loss .", "he plays the [MASK] every day .",
    "[MASK] is the best way to learn .", "the movie was [MASK] and [MASK] .", "she went to the [MASK] to buy bread .",
    "it rained all [MASK] long .", "the [MASK] barked at the mailman .",
]


@pytest.fixture(scope="module")
def mlm(tmp_path_factory, tools):
    tmp = tmp_path_factory.mktemp("mlm")
    transformers, fast, ours_tok = tools
    # MiniLM's checkpoint has no cls.predictions weights: its MLM head is the seeded random one
    pt, ours = _torch_pair(tmp, "BertForMaskedLM", "cls.predictions.transform", 0.5)
    return transformers, fast, pt, ours, ours_tok, tmp


@pytest.mark.slow
@pytest.mark.parametrize("top_k", [None, 3])
def test_fill_mask_matches_pipeline(mlm, top_k):
    transformers, fast, pt, model, tokenizer, tmp = mlm
    options = {} if top_k is None else {"top_k": top_k}
    got = _answer(model, tokenizer, tmp, {"text": tf.constant(FILL)}, max_length=32, **options)
    pipe = transformers.pipeline("fill-mask", model=pt, tokenizer=fast)
    equal = 0
    for row, want in enumerate(pipe(FILL, **options)):
        masks = want if isinstance(want[0], list) else [want]
        ok = got["num_masks"][row] == len(masks)
        for m, candidates in enumerate(masks):
            theirs = [(c["token"], c["score"]) for c in candidates]
            ok = ok and _rows_equal(list(zip(got["token_ids"][row][m], got["scores"][row][m])), theirs, 1e-5)
        equal += ok
    print(f"fill-mask top_k={top_k}: {equal}/{len(FILL)} rows equal")
    assert equal == len(FILL)


# ------------------------------------------------------------------------------------------- question answering
QA_LENGTH, QA_STRIDE = 128, 32  # short windows: most SQuAD paragraphs span several, as long contexts do


def squad_questions(n):
    """The first `n` (question, context) pairs of SQuAD v1.1 dev, in file order."""
    import json

    with open(os.path.join(SHARED_DATA, "squad", "dev-v1.1.json"), encoding="utf-8") as f:
        data = json.load(f)["data"]
    pairs = [(qa["question"], p["context"]) for article in data for p in article["paragraphs"] for qa in p["qas"]]
    return pairs[:n]


@pytest.fixture(scope="module")
def squad(tmp_path_factory, tools):
    tmp = tmp_path_factory.mktemp("squad")
    transformers, fast, ours_tok = tools
    # a small head: flat probabilities, so that [CLS] in the softmax and equal texts adding up decide answers
    pt, ours = _torch_pair(tmp, "BertForQuestionAnswering", "qa_outputs", 0.01)
    return transformers, fast, pt, ours, ours_tok, tmp


@pytest.fixture(scope="module")
def tiny_squad(tmp_path_factory, tools):
    tmp = tmp_path_factory.mktemp("tiny_squad")
    transformers, fast, ours_tok = tools
    pt, ours = _torch_pair(tmp, "BertForQuestionAnswering", "qa_outputs", 0.5, tiny=True)
    return transformers, fast, pt, ours, ours_tok, tmp


def _qa_rows_equal(setup, pairs, **options):
    """(rows whose answers equal the pipeline's, answers compared): the signature against
    `pipeline("question-answering")` with the same options (the pipeline's names), every answer of top_k."""
    transformers, fast, pt, model, tokenizer, tmp = setup
    got = _answer(model, tokenizer, tmp, {"question": tf.constant([q for q, _ in pairs]),
                                          "context": tf.constant([c for _, c in pairs])}, **options)
    pipe = transformers.pipeline("question-answering", model=pt, tokenizer=fast)
    want = pipe(question=[q for q, _ in pairs], context=[c for _, c in pairs], **options)
    k = options.get("top_k") or 1
    equal = compared = 0
    for row, w in enumerate(want if len(pairs) > 1 else [want]):
        w = w if isinstance(w, list) else [w]
        theirs = [(a["answer"], a["start"], a["end"], a["score"]) for a in w]
        n = got["num_answers"][row]
        mine = [(got["top_answers"][row][i].decode(), got["top_starts"][row][i], got["top_ends"][row][i],
                 got["top_scores"][row][i]) for i in range(n)]
        assert len(got["top_answers"][row]) == k
        assert [(a.decode(), s, e, sc) for a, s, e, sc in zip(got["top_answers"][row][n:], got["top_starts"][row][n:],
                                                              got["top_ends"][row][n:], got["top_scores"][row][n:])] \
            == [("", -1, -1, 0.0)] * (k - n)  # padding past the answers
        assert mine[0] == (got["answer"][row].decode(), got["start"][row], got["end"][row], got["score"][row])
        equal += _rows_equal(mine, theirs, 1e-5)
        compared += len(theirs)
    return equal, compared


@pytest.mark.slow
@pytest.mark.parametrize("align_to_words, handle_impossible_answer, top_k",
                         [(True, False, None), (False, True, None), (True, False, 3), (False, True, 3)])
def test_question_answering_matches_pipeline(squad, align_to_words, handle_impossible_answer, top_k):
    pairs = squad_questions(40)
    options = dict(max_seq_len=QA_LENGTH, doc_stride=QA_STRIDE, align_to_words=align_to_words,
                   handle_impossible_answer=handle_impossible_answer, top_k=top_k)
    equal, compared = _qa_rows_equal(squad, pairs, **options)
    print(f"question answering align_to_words={align_to_words} handle_impossible_answer={handle_impossible_answer}"
          f" top_k={top_k}: {equal}/{len(pairs)} rows equal ({compared} answers)")
    assert equal == len(pairs)
    assert compared == len(pairs) * (top_k or 1)


@pytest.mark.parametrize("top_k, handle_impossible_answer", [(1, True), (3, False), (3, True)])
def test_question_answering_top_k_matches_pipeline_tiny(tiny_squad, top_k, handle_impossible_answer):
    """A tiny seeded model on SQuAD dev questions, each option at the pipeline's default but top_k and
    handle_impossible_answer: 128-token windows, stride 64, answers up to 15 tokens, aligned to words."""
    pairs = squad_questions(6)
    equal, compared = _qa_rows_equal(tiny_squad, pairs, max_seq_len=QA_LENGTH, top_k=top_k,
                                     handle_impossible_answer=handle_impossible_answer)
    assert equal == len(pairs) and compared == len(pairs) * top_k


def test_export_option_defaults_are_the_pipelines():
    """Each pipeline option is an export option of the same name and default, read from the pipelines' code."""
    import inspect

    from transformers.pipelines.question_answering import QuestionAnsweringPipeline
    from transformers.pipelines.token_classification import TokenClassificationPipeline

    def defaults(method):
        return {k: p.default for k, p in inspect.signature(method).parameters.items()
                if p.default is not inspect.Parameter.empty}

    ours = ExportOptions()
    qa = {**defaults(QuestionAnsweringPipeline.postprocess), **defaults(QuestionAnsweringPipeline.preprocess)}
    for name in ("top_k", "handle_impossible_answer", "max_answer_len", "align_to_words", "max_question_len"):
        assert ours.k(1) == qa[name] if name == "top_k" else getattr(ours, name) == qa[name], name
    assert ours.stride == min(ours.max_seq_len // 2, 128)  # the pipeline's doc_stride rule for our window length
    strategy = defaults(TokenClassificationPipeline.postprocess)["aggregation_strategy"]
    assert ours.aggregation_strategy == getattr(strategy, "value", strategy)
    for old, new in (("max_answer_tokens", "max_answer_len"), ("max_question_tokens", "max_question_len")):
        with pytest.raises(TypeError, match=f"'{old}' is now '{new}'"):
            export_saved_model(None, object(), "unused", **{old: 1})
    for bad, message in ((dict(align_to_words=None), "align_to_words must be True or False"),
                         (dict(max_seq_len=64, max_length=32), "give one of them"),
                         (dict(doc_stride=200), "doc_stride .200. is larger than max_seq_len"),
                         (dict(top_k=0), "top_k must be a positive integer")):
        with pytest.raises(ValueError, match=message):
            ExportOptions(**bad)
