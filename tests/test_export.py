"""Raw-text SavedModels for every task: same answers in a fresh process that has only tensorflow and
tensorflow_text, answers checked against Python re-implementations on real sentences, atomic versions."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import tensorflow as tf

import keras_bert_suite as kbs
from keras_bert_suite.data import read_conll
from helpers import SHARED_DATA, minilm_folder, task_models
from keras_bert_suite.export import export_saved_model
from keras_bert_suite.tokenizers import BertTokenizer

pytestmark = pytest.mark.slow  # exports every task with XLA and reads them in a fresh process

NER_LABELS = {0: "O", 1: "B-PER", 2: "I-PER", 3: "B-LOC", 4: "I-LOC"}


def _config(**kw):
    return kbs.BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                          intermediate_size=37, max_position_embeddings=128, **kw)


def _sst2(n):
    with open(os.path.join(SHARED_DATA, "sst2", "dev.tsv"), encoding="utf-8") as f:
        return [line.split("\t")[0] for line in f.read().splitlines()[1:n + 1]]


def _conll(n):
    sentences = read_conll(os.path.join(SHARED_DATA, "conll2003", "valid.txt"))["tokens"]
    return [text for text in (" ".join(words) for words in sentences) if len(text) > 30][:n]


def _squad(n):
    with open(os.path.join(SHARED_DATA, "squad", "dev-v1.1.json"), encoding="utf-8") as f:
        data = json.load(f)["data"]
    out = []
    for para in data[0]["paragraphs"][:n]:
        out.append((para["qas"][0]["question"], para["context"]))
    return out


def _swag(n):
    with open(os.path.join(SHARED_DATA, "multiple_choice", "swag_sample", "sample.json"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [(r["sent1"] + " " + r["sent2"], [r[f"ending{i}"] for i in range(4)]) for r in rows[:n]]


def _requests():
    qa = _squad(3)
    mc = _swag(3)
    return {
        "sequence_classification": {"serving_default": {"text": _sst2(4)},
                                    "pair": {"text": _sst2(2), "text_pair": _sst2(4)[2:]}},
        "token_classification": {"serving_default": {"text": _conll(4)}},
        "question_answering": {"serving_default": {"question": [q for q, _ in qa], "context": [c for _, c in qa]}},
        "masked_lm": {"serving_default": {"text": ["the capital of france is [MASK] .",
                                                  "[MASK] is a [MASK] sport played in many countries ."]}},
        "next_sentence_prediction": {"serving_default": {"text": _sst2(2), "text_pair": _sst2(4)[2:]}},
        "multiple_choice": {"serving_default": {"question": [q for q, _ in mc], "choices": [c for _, c in mc]}},
        "feature_extraction": {"serving_default": {"text": _sst2(3)}},
        "causal_lm": {"serving_default": {"prompt": ["the film is", "a story about"]}},
    }


def _models():
    import keras

    keras.utils.set_random_seed(0)
    return {task: make() for task, make in task_models(_config, NER_LABELS).items()}


FRESH = textwrap.dedent("""
    import json, sys
    sys.modules["keras_bert_suite"] = None        # the project must not be importable here
    import tensorflow as tf
    import tensorflow_text  # noqa: F401  (registers its ops)
    root, requests = sys.argv[1], json.load(open(sys.argv[2]))
    def plain(x):
        return x.decode() if isinstance(x, bytes) else [plain(v) for v in x] if isinstance(x, list) else x
    out = {}
    for task, signatures in requests.items():
        loaded = tf.saved_model.load(f"{root}/{task}/1")
        for name, inputs in signatures.items():
            fn = loaded.signatures[name]
            result = fn(**{k: tf.constant(v) for k, v in inputs.items()})
            out[f"{task}/{name}"] = {k: plain(v.numpy().tolist()) for k, v in result.items()}
            out[f"{task}/{name}/signature"] = sorted(fn.structured_input_signature[1])
    json.dump(out, open(sys.argv[3], "w"))
""")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    root = tmp_path_factory.mktemp("savedmodels")
    tokenizer = BertTokenizer.from_pretrained(minilm_folder())
    models = _models()
    paths = {}
    for task, model in models.items():
        options = {"token_classification": {"aggregation_strategy": "first"},  # word spans, as the reference
                   "question_answering": {"align_to_words": False}}.get(task, {})
        paths[task] = export_saved_model(model, tokenizer, root / task, max_length=64, doc_stride=16, **options)
    requests = _requests()
    (root / "requests.json").write_text(json.dumps(requests))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", PYTHONPATH="")
    proc = subprocess.run([sys.executable, "-I", "-c", FRESH, str(root), str(root / "requests.json"),
                           str(root / "answers.json")], capture_output=True, text=True, timeout=900, env=env)
    assert proc.returncode == 0, proc.stderr[-4000:]
    answers = json.loads((root / "answers.json").read_text())
    return {"root": root, "models": models, "paths": paths, "answers": answers, "requests": requests,
            "tokenizer": tokenizer}


def _in_process(exported, task, name="serving_default"):
    loaded = tf.saved_model.load(exported["paths"][task])
    inputs = exported["requests"][task][name]
    return loaded.signatures[name](**{k: tf.constant(v) for k, v in inputs.items()}), inputs


def test_layout_versions_and_string_inputs(exported):
    root = exported["root"]
    for task, path in exported["paths"].items():
        assert path == str(root / task / "1")
        assert os.path.exists(os.path.join(path, "saved_model.pb"))
    ans = exported["answers"]
    assert ans["sequence_classification/serving_default/signature"] == ["text"]
    assert ans["sequence_classification/pair/signature"] == ["text", "text_pair"]
    assert ans["question_answering/serving_default/signature"] == ["context", "question"]
    assert ans["multiple_choice/serving_default/signature"] == ["choices", "question"]
    assert ans["causal_lm/serving_default/signature"] == ["prompt"]


@pytest.mark.parametrize("task", ["sequence_classification", "next_sentence_prediction", "multiple_choice",
                                  "feature_extraction"])
def test_fresh_process_matches_in_process_model(exported, task):
    model, tok = exported["models"][task], exported["tokenizer"]
    inputs = exported["requests"][task]["serving_default"]
    fresh = exported["answers"][f"{task}/serving_default"]
    if task == "multiple_choice":
        firsts = [q for q, cs in zip(inputs["question"], inputs["choices"]) for _ in cs]
        enc = tok(firsts, [c for cs in inputs["choices"] for c in cs], padding=True, truncation=True,
                  max_length=64, return_tensors="np")
        n = len(inputs["choices"][0])
        logits = model({k: v.reshape(len(inputs["question"]), n, -1) for k, v in enc.items()}).logits.numpy()
    else:
        enc = tok(*inputs.values(), padding=True, truncation=True, max_length=64, return_tensors="np")
        out = model(dict(enc))
        if task == "feature_extraction":
            mask = enc["attention_mask"][..., None]
            pooled = (out.last_hidden_state.numpy() * mask).sum(1) / mask.sum(1)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            np.testing.assert_allclose(fresh["sentence_embedding"], pooled, atol=1e-5)
            np.testing.assert_allclose(fresh["pooler_output"], out.pooler_output.numpy(), atol=1e-5)
            return
        logits = out.logits.numpy()
    np.testing.assert_allclose(fresh["logits"], logits, atol=1e-5)
    if task == "sequence_classification":
        assert fresh["label"] == [("neg", "pos")[i] for i in logits.argmax(-1)]
        pair = exported["answers"]["sequence_classification/pair"]
        enc = tok(*exported["requests"][task]["pair"].values(), padding=True, return_tensors="np")
        np.testing.assert_allclose(pair["logits"], model(dict(enc)).logits.numpy(), atol=1e-5)
    if task == "multiple_choice":
        assert fresh["choice"] == logits.argmax(-1).tolist()


def _python_entities(text, probs, tokens, offsets):
    """Reference aggregation in plain Python: the first piece decides a word's label; B- or a new type opens."""
    words = []
    for p, tok, (s, e) in zip(probs, tokens, offsets):
        if tok.startswith("##") and words:
            words[-1][3] = e
        else:
            words.append([int(p.argmax()), float(p.max()), s, e])
    entities = []
    prev_type = None
    for label, score, s, e in words:
        name = NER_LABELS[label]
        kind = None if name == "O" else name[2:]
        if kind is None:
            prev_type = None
            continue
        if name.startswith("B-") or kind != prev_type:
            entities.append([kind, [score], s, e])
        else:
            entities[-1][1].append(score)
            entities[-1][3] = e
        prev_type = kind
    return [(text[s:e], kind, s, e, sum(sc) / len(sc)) for kind, sc, s, e in entities]


def test_ner_spans_match_python_reference_on_real_sentences(exported):
    model, tok = exported["models"]["token_classification"], exported["tokenizer"]
    texts = exported["requests"]["token_classification"]["serving_default"]["text"]
    fresh = exported["answers"]["token_classification/serving_default"]
    total = 0
    for row, text in enumerate(texts):
        enc = tok(text, truncation=True, max_length=64, return_offsets_mapping=True, return_tensors="np")
        offsets = enc.pop("offset_mapping")[0]
        logits = model({k: v for k, v in enc.items()}).logits.numpy()[0]
        probs = np.exp(logits - logits.max(-1, keepdims=True))
        probs /= probs.sum(-1, keepdims=True)
        tokens = tok.convert_ids_to_tokens(enc["input_ids"][0].tolist())
        want = _python_entities(text, probs[1:-1], tokens[1:-1], offsets[1:-1].tolist())
        n = fresh["num_entities"][row]
        assert n == len(want)
        total += n
        for i, (etext, label, s, e, score) in enumerate(want):
            assert fresh["entity_text"][row][i] == etext == text[s:e]
            assert fresh["entity_label"][row][i] == label
            assert (fresh["entity_start"][row][i], fresh["entity_end"][row][i]) == (s, e)
            assert abs(fresh["entity_score"][row][i] - score) < 1e-5
    assert total > 0


def test_qa_answers_match_python_windows_on_squad(exported):
    model, tok = exported["models"]["question_answering"], exported["tokenizer"]
    req = exported["requests"]["question_answering"]["serving_default"]
    fresh = exported["answers"]["question_answering/serving_default"]
    max_length, stride = 64, 16
    for row, (question, context) in enumerate(zip(req["question"], req["context"])):
        q = tok(question, add_special_tokens=False)["input_ids"][:64]
        c = tok(context, add_special_tokens=False, return_offsets_mapping=True)
        ids, offsets = c["input_ids"], c["offset_mapping"]
        window = max_length - 3 - len(q)
        step = window - stride
        starts = [0]
        while starts[-1] + window < len(ids):
            starts.append(starts[-1] + step)
        found = {}  # lower-cased text -> [score, start, end]: the pipeline's rules, align_to_words=False
        assert len(starts) > 1  # real SQuAD paragraphs need several windows here
        for w in starts:
            span = list(range(w, min(w + window, len(ids))))
            feat = [tok.cls_token_id] + q + [tok.sep_token_id] + [ids[i] for i in span] + [tok.sep_token_id]
            types = [0] * (len(q) + 2) + [1] * (len(span) + 1)
            out = model({"input_ids": np.array([feat]), "token_type_ids": np.array([types])})
            first = len(q) + 2
            probs = []
            for logits in (out.start_logits.numpy()[0], out.end_logits.numpy()[0]):
                kept = np.concatenate([logits[:1], logits[first:first + len(span)]])  # [CLS] and the context
                p = np.exp(kept - kept.max())
                probs.append((p / p.sum())[1:])
            ps, pe = probs
            best = max((ps[i] * pe[j], -i, -j) for i in range(len(span)) for j in range(i, min(i + 15, len(span))))
            i, j = -best[1], -best[2]
            s, e = offsets[span[i]][0], offsets[span[j]][1]
            entry = found.setdefault(context[s:e].lower(), [0.0, s, e])
            entry[0] += best[0]
        score, s, e = max(found.values(), key=lambda v: v[0])  # the first of equal scores
        assert (fresh["start"][row], fresh["end"][row]) == (s, e)
        assert fresh["answer"][row] == context[s:e]
        assert abs(fresh["score"][row] - score) < 1e-5


def test_masked_lm_top_k(exported):
    model, tok = exported["models"]["masked_lm"], exported["tokenizer"]
    texts = exported["requests"]["masked_lm"]["serving_default"]["text"]
    fresh = exported["answers"]["masked_lm/serving_default"]
    assert fresh["num_masks"] == [1, 2]
    enc = tok(texts, padding=True, return_tensors="np")
    logits = model(dict(enc)).logits.numpy()
    row, pos = np.nonzero(enc["input_ids"] == tok.mask_token_id)
    for k, (r, p) in enumerate(zip(row, pos)):
        slot = k - (1 if r == 1 else 0)
        top = np.argsort(-logits[r, p])[:5]
        assert fresh["token_ids"][r][slot] == top.tolist()
        assert fresh["tokens"][r][slot] == tok.convert_ids_to_tokens(top.tolist())


def test_causal_lm_generates_text_in_graph(exported):
    model, tok = exported["models"]["causal_lm"], exported["tokenizer"]
    fresh = exported["answers"]["causal_lm/serving_default"]
    prompt = exported["requests"]["causal_lm"]["serving_default"]["prompt"][0]
    ids = [tok.cls_token_id] + tok(prompt, add_special_tokens=False)["input_ids"]
    want = model.generate(np.array([ids]), max_new_tokens=20).numpy()[0, len(ids):]
    assert fresh["token_ids"][0] == want.tolist()
    assert isinstance(fresh["text"][0], str)


def test_next_version_and_failed_export_leaves_nothing(exported, tmp_path, monkeypatch):
    model, tok = exported["models"]["next_sentence_prediction"], exported["tokenizer"]
    base = tmp_path / "nsp"
    first = export_saved_model(model, tok, base, max_length=32)
    second = export_saved_model(model, tok, base, max_length=32)
    assert (os.path.basename(first), os.path.basename(second)) == ("1", "2")
    before = sorted(os.listdir(base))

    def broken(obj, path, *args, **kwargs):
        os.makedirs(os.path.join(path, "variables"), exist_ok=True)
        with open(os.path.join(path, "saved_model.pb"), "wb") as f:
            f.write(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(tf.saved_model, "save", broken)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(model, tok, base, max_length=32)
    assert sorted(os.listdir(base)) == before
    with pytest.raises(ValueError, match="unknown task"):
        export_saved_model(model, tok, base, task="summarization")
    with pytest.raises(ValueError, match="chunk_size must be a non-negative integer.*-1"):
        export_saved_model(model, tok, base, chunk_size=-1)
    assert sorted(os.listdir(base)) == before


def test_vocabulary_larger_than_embeddings_is_refused(tmp_path):
    model = kbs.BertModel(kbs.BertConfig(vocab_size=99, hidden_size=32, num_hidden_layers=1, num_attention_heads=4,
                                         intermediate_size=37))
    with pytest.raises(ValueError, match="30522 tokens but the model's embeddings have 99 rows"):
        export_saved_model(model, BertTokenizer.from_pretrained(minilm_folder()), tmp_path / "m")
    assert not (tmp_path / "m").exists()


def test_bfloat16_export_agrees_with_float32(exported, tmp_path):
    model, tok = exported["models"]["sequence_classification"], exported["tokenizer"]
    texts = _sst2(16)
    path = export_saved_model(model, tok, tmp_path / "bf16", max_length=64, compute_dtype="bfloat16")
    got = tf.saved_model.load(path).signatures["serving_default"](text=tf.constant(texts))
    enc = tok(texts, padding=True, truncation=True, max_length=64, return_tensors="np")
    want = model(dict(enc)).logits.numpy()
    np.testing.assert_allclose(got["logits"].numpy(), want, atol=5e-2)
    assert model.dtype_policy.name == "float32"  # the exported copy computes in bfloat16, not the model
    with pytest.raises(ValueError, match="compute_dtype"):
        export_saved_model(model, tok, tmp_path / "x", compute_dtype="int4")
