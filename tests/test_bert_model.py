"""BertModel against transformers' PyTorch BertModel with the same weights (TensorFlow and JAX backends)."""

import numpy as np
import pytest
import tensorflow as tf
import keras

from helpers import TF_ONLY, batch, max_diff, sst2_sentences, torch_reference, torch_run
from keras_bert_suite import BertConfig, BertModel
from keras_bert_suite.checkpoints.mapping import WeightShapeError

TOL = 1e-5

pytestmark = pytest.mark.jax  # and the TensorFlow run


@pytest.mark.parametrize("position_embedding_type", ["absolute", "relative_key", "relative_key_query"])
@pytest.mark.parametrize("hidden_act", ["gelu", "gelu_new"])
def test_parity_all_outputs(tmp_path, position_embedding_type, hidden_act):
    ref = torch_reference("BertModel", tmp_path, position_embedding_type=position_embedding_type,
                          hidden_act=hidden_act)
    model = BertModel.from_pretrained(tmp_path)
    inputs = batch()
    want = torch_run(ref, **inputs, output_hidden_states=True, output_attentions=True)
    got = model(inputs, output_hidden_states=True, output_attentions=True)
    assert max_diff(got.last_hidden_state, want.last_hidden_state) < TOL
    assert max_diff(got.pooler_output, want.pooler_output) < TOL
    assert len(got.hidden_states) == 3 and len(got.attentions) == 2
    for a, b in zip(got.hidden_states + got.attentions, want.hidden_states + want.attentions):
        assert max_diff(a, b) < TOL
    # the output class is a dict, an object and a tuple at once
    assert got["pooler_output"] is got.pooler_output is got[1]


def test_head_mask_and_position_ids(tmp_path):
    ref = torch_reference("BertModel", tmp_path)
    model = BertModel.from_pretrained(tmp_path)
    inputs = batch()
    head_mask = np.array([[1, 0, 1, 1], [0, 1, 1, 0]], "float32")
    position_ids = np.tile(np.arange(9)[::-1], (3, 1)).astype("int64")
    want = torch_run(ref, **inputs, head_mask=head_mask, position_ids=position_ids, output_attentions=True)
    got = model(inputs, head_mask=head_mask, position_ids=position_ids, output_attentions=True)
    assert max_diff(got.last_hidden_state, want.last_hidden_state) < TOL
    assert float(np.abs(got.attentions[0][:, 1]).max()) == 0.0
    one_d = model(inputs, head_mask=np.array([1, 1, 0, 1], "float32"))
    want_1d = torch_run(ref, **inputs, head_mask=np.array([1, 1, 0, 1], "float32"))
    assert max_diff(one_d.last_hidden_state, want_1d.last_hidden_state) < TOL
    with pytest.raises(ValueError, match="head_mask must have shape"):
        model(inputs, head_mask=np.ones((3, 4), "float32"))


def test_inputs_embeds_keywords_and_int32(tmp_path):
    torch_reference("BertModel", tmp_path)
    model = BertModel.from_pretrained(tmp_path)
    inputs = batch()
    base = model(inputs).last_hidden_state
    as_kw = model(input_ids=inputs["input_ids"].astype("int32"), attention_mask=inputs["attention_mask"],
                  token_type_ids=inputs["token_type_ids"].astype("int32")).last_hidden_state
    embeds = model.get_input_embeddings()(inputs["input_ids"])
    via_embeds = model(inputs_embeds=embeds, attention_mask=inputs["attention_mask"],
                       token_type_ids=inputs["token_type_ids"]).last_hidden_state
    assert max_diff(base, as_kw) == 0.0
    assert max_diff(base, via_embeds) < 1e-6
    with pytest.raises(ValueError, match="either input_ids or inputs_embeds"):
        model({"attention_mask": inputs["attention_mask"]})
    with pytest.raises(TypeError, match="unexpected inputs.*labelz"):
        model({**inputs, "labelz": inputs["input_ids"]})


def test_decoder_with_cache_and_cross_attention(tmp_path):
    ref = torch_reference("BertModel", tmp_path, is_decoder=True, add_cross_attention=True)
    model = BertModel.from_pretrained(tmp_path)
    inputs = batch(pad_row=False)
    enc = np.random.RandomState(1).randn(3, 5, 32).astype("float32")
    enc_mask = np.ones((3, 5), "int64")
    enc_mask[0, 3:] = 0
    want = torch_run(ref, **inputs, encoder_hidden_states=enc, encoder_attention_mask=enc_mask,
                     output_attentions=True, use_cache=False)
    got = model(inputs, encoder_hidden_states=enc, encoder_attention_mask=enc_mask, output_attentions=True)
    assert max_diff(got.last_hidden_state, want.last_hidden_state) < TOL
    for a, b in zip(got.cross_attentions, want.cross_attentions):
        assert max_diff(a, b) < TOL
    # incremental decoding with the cache gives the full pass's states
    first = {k: v[:, :6] for k, v in inputs.items()}
    rest = {k: v[:, 6:] for k, v in inputs.items()}
    step1 = model(first, encoder_hidden_states=enc, encoder_attention_mask=enc_mask, use_cache=True)
    assert len(step1.past_key_values) == 2 and len(step1.past_key_values[0]) == 4
    step2 = model({"input_ids": rest["input_ids"], "token_type_ids": rest["token_type_ids"]},
                  encoder_hidden_states=enc, encoder_attention_mask=enc_mask,
                  past_key_values=step1.past_key_values, use_cache=True)
    assert max_diff(step2.last_hidden_state, want.last_hidden_state[:, 6:]) < TOL


@pytest.mark.parametrize("position_embedding_type", ["relative_key", "relative_key_query"])
def test_decoder_relative_positions_parity(tmp_path, position_embedding_type):
    ref = torch_reference("BertModel", tmp_path, is_decoder=True, position_embedding_type=position_embedding_type)
    model = BertModel.from_pretrained(tmp_path)
    inputs = batch()
    want = torch_run(ref, **inputs, use_cache=False)
    got = model(inputs)
    assert max_diff(got.last_hidden_state, want.last_hidden_state) < TOL


@TF_ONLY
def test_xla_compiles_and_matches(tmp_path):
    torch_reference("BertModel", tmp_path)
    model = BertModel.from_pretrained(tmp_path)
    inputs = {k: tf.constant(v) for k, v in batch().items()}
    eager = model(inputs).last_hidden_state
    compiled = tf.function(lambda x: model(x).last_hidden_state, jit_compile=True)
    assert max_diff(compiled(inputs), eager) < 1e-5


def test_save_pretrained_loads_in_transformers(tmp_path):
    import transformers

    model = BertModel(BertConfig(**{"vocab_size": 99, "hidden_size": 32, "num_hidden_layers": 2,
                                    "num_attention_heads": 4, "intermediate_size": 37}))
    model.save_pretrained(tmp_path)
    ref = transformers.BertModel.from_pretrained(tmp_path, attn_implementation="eager").eval()
    inputs = batch()
    assert max_diff(model(inputs).last_hidden_state, torch_run(ref, **inputs).last_hidden_state) < TOL


def test_keras_save_and_load(tmp_path):
    torch_reference("BertModel", tmp_path / "hf", position_embedding_type="relative_key")
    model = BertModel.from_pretrained(tmp_path / "hf")
    path = str(tmp_path / "model.keras")
    model.save(path)
    back = keras.saving.load_model(path)
    inputs = batch()
    assert type(back) is BertModel and back.config == model.config
    assert max_diff(back(inputs).last_hidden_state, model(inputs).last_hidden_state) == 0.0


def test_loading_errors_name_weights(tmp_path):
    from safetensors.numpy import load_file, save_file

    torch_reference("BertModel", tmp_path)
    weights = load_file(tmp_path / "model.safetensors")
    del weights["encoder.layer.1.output.dense.bias"]
    weights["pooler.dense.weight"] = np.zeros((32, 16), "float32")
    save_file(weights, tmp_path / "model.safetensors")
    with pytest.raises(WeightShapeError, match=r"pooler.dense.weight: checkpoint \(32, 16\), model \(32, 32\)"):
        BertModel.from_pretrained(tmp_path)
    model, info = BertModel.from_pretrained(tmp_path, ignore_mismatched_sizes=True, output_loading_info=True)
    assert "encoder.layer.1.output.dense.bias" in info.missing_keys
    assert info.mismatched_keys[0][0] == "pooler.dense.weight"
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        BertModel.from_pretrained(tmp_path / "does-not-exist")


@pytest.mark.slow
def test_real_minilm_parity(minilm):
    import torch
    import transformers


    sentences = sst2_sentences()
    tok = transformers.BertTokenizer.from_pretrained(minilm)
    enc = tok(sentences, padding=True, return_tensors="np")
    ref = transformers.BertModel.from_pretrained(minilm, attn_implementation="eager").eval()
    with torch.no_grad():
        want = ref(**{k: torch.tensor(v) for k, v in enc.items()})
    model = BertModel.from_pretrained(minilm)
    got = model(dict(enc))
    valid = enc["attention_mask"].astype(bool)
    assert max_diff(np.asarray(got.last_hidden_state)[valid], want.last_hidden_state.numpy()[valid]) < 1e-4
    assert max_diff(got.pooler_output, want.pooler_output) < 1e-4




@TF_ONLY
@pytest.mark.parametrize("case", ["absolute", "relative_key", "hidden_states", "padded"])
def test_output_positions_are_rows_of_the_full_result(case):
    """`output_positions`: the last layer computes only those rows (or, where it cannot, every row is
    computed and the rows picked): either way the rows of the full result, and the same gradients."""
    from helpers import TINY
    from keras_bert_suite.layers.backbone import BertBackbone

    keras.utils.set_random_seed(0)
    config = BertConfig(**TINY, position_embedding_type="relative_key" if case == "relative_key" else "absolute")
    backbone = BertBackbone(config)
    inputs = {k: tf.constant(v) for k, v in batch(batch_size=3, length=9).items()}
    if case != "padded":
        inputs["attention_mask"] = tf.ones_like(inputs["attention_mask"])
    positions = tf.constant([[0, 2, 5], [0, 8, 1], [0, 0, 3]])
    extra = {"output_hidden_states": True} if case == "hidden_states" else {}

    def run(**kw):
        with tf.GradientTape() as tape:
            out = backbone(**inputs, **extra, **kw)
            loss = tf.reduce_sum(out.last_hidden_state ** 2) + tf.reduce_sum(out.pooler_output)
        return out, tape.gradient(loss, backbone.trainable_variables)

    full, _ = run()
    rows = tf.gather(full.last_hidden_state, positions, batch_dims=1)
    some, grads = run(output_positions=positions)
    assert some.last_hidden_state.shape == (3, 3, 32)
    assert max_diff(some.last_hidden_state, rows) < 1e-5
    assert max_diff(some.pooler_output, full.pooler_output) < 1e-5
    with tf.GradientTape() as tape:
        out = backbone(**inputs, **extra)
        loss = (tf.reduce_sum(tf.gather(out.last_hidden_state, positions, batch_dims=1) ** 2)
                + tf.reduce_sum(out.pooler_output))
    want = tape.gradient(loss, backbone.trainable_variables)
    for g, w, v in zip(grads, want, backbone.trainable_variables):
        assert (g is None) == (w is None), v.path
        if g is not None:
            g, w = tf.convert_to_tensor(g).numpy(), tf.convert_to_tensor(w).numpy()
            assert max_diff(g, w) < 1e-5 * max(1.0, float(np.abs(w).max())) * 10, v.path
