import json

import pytest
import transformers

from keras_bert_suite import BertConfig
from keras_bert_suite.config import ConfigError


def test_defaults_match_transformers():
    ours, ref = BertConfig().to_dict(), transformers.BertConfig().to_dict()
    for key, value in ours.items():
        if key in ref and key not in ("architectures", "id2label"):
            assert ref[key] == value, key


def test_round_trip_with_unknown_keys_and_labels(tmp_path):
    config = BertConfig(hidden_size=64, num_attention_heads=4, id2label={0: "neg", 1: "pos", 2: "neutral"},
                        problem_type="single_label_classification", my_custom_key={"a": [1, 2]})
    config.save_pretrained(tmp_path)
    back = BertConfig.from_pretrained(tmp_path)
    assert back == config
    assert back.num_labels == 3 and back.label2id["pos"] == 1 and back.extra["my_custom_key"] == {"a": [1, 2]}
    # transformers reads what we write
    ref = transformers.BertConfig.from_pretrained(tmp_path)
    assert ref.id2label == {0: "neg", 1: "pos", 2: "neutral"} and ref.hidden_size == 64


def test_reads_transformers_config(tmp_path):
    ref = transformers.BertConfig(hidden_size=48, num_attention_heads=3, position_embedding_type="relative_key",
                                  is_decoder=True, add_cross_attention=True, classifier_dropout=0.2, num_labels=5)
    ref.save_pretrained(tmp_path)
    ours = BertConfig.from_pretrained(tmp_path)
    for key in ("hidden_size", "num_attention_heads", "position_embedding_type", "is_decoder",
                "add_cross_attention", "classifier_dropout", "num_labels"):
        assert getattr(ours, key) == getattr(ref, key), key


def test_overrides_and_num_labels(tmp_path):
    BertConfig(id2label={0: "a", 1: "b"}).save_pretrained(tmp_path)
    assert BertConfig.from_pretrained(tmp_path, num_labels=4).num_labels == 4


@pytest.mark.parametrize("kwargs, message", [
    (dict(hidden_size=30, num_attention_heads=4), "not a multiple"),
    (dict(position_embedding_type="rotary"), "position_embedding_type"),
    (dict(hidden_act="nope"), "hidden_act"),
    (dict(problem_type="ranking"), "problem_type"),
    (dict(vocab_size=0), "vocab_size"),
    (dict(hidden_dropout_prob=1.5), "hidden_dropout_prob"),
    (dict(num_labels=3, id2label={0: "a"}), "num_labels"),
])
def test_invalid_values_are_named(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        BertConfig(**kwargs)


def test_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError):
        BertConfig.from_pretrained(tmp_path / "nope")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(ConfigError, match="config.json"):
        BertConfig.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps({"hidden_size": 10, "num_attention_heads": 3}))
    with pytest.raises(ConfigError, match="config.json.*multiple"):
        BertConfig.from_pretrained(tmp_path)
