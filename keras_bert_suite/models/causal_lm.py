"""`BertLMHeadModel`: BERT as a left-to-right decoder (`is_decoder=True`), with a key/value cache and `generate`.

`labels` [batch, length] give the shifted next-token loss (position t predicts token t + 1; -100 ignored).
`generate` decodes greedily or by top-k sampling inside a `tf.while_loop`, reusing the cache, so it runs in a
`tf.function` and in a SavedModel. Under the JAX backend it runs the same steps as an eager Python loop
(`_generate_eagerly`: greedy decoding gives the same tokens; samples come from `keras.random`, not TensorFlow's).

Example:
    >>> from keras_bert_suite import BertConfig
    >>> model = BertLMHeadModel(BertConfig(is_decoder=True, vocab_size=99, hidden_size=32, num_hidden_layers=2,
    ...                                    num_attention_heads=4, intermediate_size=37))
    >>> tokens = model.generate([[2, 5, 6]], max_new_tokens=8)
    >>> tuple(tokens.shape)
    (1, 11)
"""

import keras
import tensorflow as tf

from keras_bert_suite import losses
from keras_bert_suite.models.call_docs import document_model
from keras_bert_suite.models.pretraining import _WithLMHead
from keras_bert_suite.outputs import CausalLMOutputWithCrossAttentions


@keras.saving.register_keras_serializable(package="keras_bert_suite")
@document_model("`labels` int [batch, length]: the input ids; position t is scored on token t + 1, -100 ignored.")
class BertLMHeadModel(_WithLMHead):
    """BERT as a left-to-right language model (build it with `is_decoder=True`), with `generate`.

    Args:
        config: a `BertConfig` (or its dict).
        **kwargs: `keras.Model` arguments (`name`, `dtype`: a policy such as "mixed_bfloat16", which the
            config of a saved model keeps).

    Example:
        >>> import numpy as np
        >>> from keras_bert_suite import BertConfig, BertLMHeadModel
        >>> model = BertLMHeadModel(BertConfig(is_decoder=True, vocab_size=99, hidden_size=32, num_hidden_layers=2,
        ...                                    num_attention_heads=4, intermediate_size=37))
        >>> out = model(np.array([[2, 5, 7, 3], [2, 6, 3, 0]]), use_cache=True)
        >>> tuple(out.logits.shape), len(out.past_key_values)
        ((2, 4, 99), 2)
    """

    serving_task = "causal_lm"
    add_pooling_layer = False
    label_names = ("labels",)

    def forward(self, training=None, labels=None, **inputs):
        if "use_cache" not in inputs and labels is not None:
            inputs["use_cache"] = False
        body = self.bert(training=training, **inputs)
        out = CausalLMOutputWithCrossAttentions(
            logits=self.predictions(body.last_hidden_state),
            past_key_values=body.past_key_values,
            hidden_states=body.hidden_states,
            attentions=body.attentions,
            cross_attentions=body.cross_attentions,
        )
        if labels is not None:
            out.loss = self.head_loss(out, {"labels": labels})
        return out

    def head_loss(self, outputs, labels):
        return losses.causal_lm_loss(outputs["logits"], labels["labels"])

    def generate(self, input_ids, attention_mask=None, max_new_tokens=20, do_sample=False, top_k=50,
                 temperature=1.0, seed=(0, 0), eos_token_id=None, pad_token_id=None):
        """Append `max_new_tokens` tokens to each prompt (right-aligned prompts: pad on the left).

        Args:
            input_ids: [batch, prompt_length] int prompt ids.
            do_sample: False for greedy, True for sampling among the `top_k` most likely tokens.
            seed: a pair of ints for stateless sampling; equal seeds give equal samples.
            eos_token_id: once a row emits it, the rest of that row is `pad_token_id`.
        Returns:
            int32 [batch, prompt_length + max_new_tokens].
        """
        if not self.config.is_decoder:
            raise ValueError("generate needs a decoder: build BertLMHeadModel with is_decoder=True")
        if keras.backend.backend() != "tensorflow":
            return self._generate_eagerly(input_ids, attention_mask, max_new_tokens, do_sample, top_k, temperature,
                                          seed, eos_token_id, pad_token_id)
        input_ids = tf.cast(tf.convert_to_tensor(input_ids), tf.int32)
        batch = tf.shape(input_ids)[0]
        if attention_mask is None:
            attention_mask = tf.ones_like(input_ids)
        attention_mask = tf.cast(attention_mask, tf.int32)
        pick = self._token_picker(do_sample, top_k, temperature, seed)
        out = self({"input_ids": input_ids, "attention_mask": attention_mask}, use_cache=True)
        token = pick(out.logits[:, -1], 0)
        new_tokens = self._decode(out.past_key_values, token, attention_mask, pick, max_new_tokens, eos_token_id,
                                  self._pad_id(pad_token_id), batch)
        return tf.concat([input_ids, new_tokens], axis=1)

    def _pad_id(self, pad_token_id):
        """The id written after a row's end: `pad_token_id`, else the config's, else 0."""
        pad = self.config.pad_token_id if pad_token_id is None else pad_token_id
        return 0 if pad is None else pad

    def _token_picker(self, do_sample, top_k, temperature, seed):
        """`pick(logits [batch, vocab], step)` -> int32 [batch]: the argmax, or with `do_sample` a stateless
        sample among the `top_k` most likely (seeded by `seed` and the step)."""
        seed = tf.cast(tf.convert_to_tensor(seed), tf.int32)

        def pick(logits, step):
            logits = tf.cast(logits, tf.float32)
            if not do_sample:
                return tf.argmax(logits, axis=-1, output_type=tf.int32)
            values, indices = tf.math.top_k(logits / temperature, k=min(top_k, self.config.vocab_size))
            choice = tf.random.stateless_categorical(values, 1, seed=seed + tf.stack([0, step]), dtype=tf.int32)
            return tf.gather(indices, choice[:, 0], batch_dims=1)

        return pick

    def _decode(self, cache, token, attention_mask, pick, max_new_tokens, eos_token_id, pad, batch):
        """The `max_new_tokens` tokens after the prompt, int32 [batch, max_new_tokens], from the prompt's cache
        and first picked `token`: one cached call per token in a `tf.while_loop`; `pad` after a row's
        `eos_token_id`."""
        done = tf.zeros((batch,), tf.bool)
        generated = tf.TensorArray(tf.int32, size=max_new_tokens)

        def body(step, token, done, cache, mask, generated):
            token = tf.where(done, pad, token)
            generated = generated.write(step, token)
            if eos_token_id is not None:
                done = done | tf.equal(token, eos_token_id)
            mask = tf.concat([mask, tf.ones((batch, 1), tf.int32)], axis=1)
            out = self({"input_ids": token[:, None], "attention_mask": mask, "past_key_values": cache},
                       use_cache=True)
            return step + 1, pick(out.logits[:, -1], step + 1), done, out.past_key_values, mask, generated

        def shape_free(t):
            return tf.TensorShape([None] * len(t.shape))

        loop_vars = (tf.constant(0), token, done, cache, attention_mask, generated)
        invariants = (
            tf.TensorShape([]), tf.TensorShape([None]), tf.TensorShape([None]),
            tf.nest.map_structure(shape_free, cache), tf.TensorShape([None, None]), tf.TensorShape(None),
        )
        *_, generated = tf.while_loop(
            lambda step, *_: step < max_new_tokens, body, loop_vars, shape_invariants=invariants,
            maximum_iterations=max_new_tokens,
        )
        return tf.transpose(generated.stack())

    def _generate_eagerly(self, input_ids, attention_mask, max_new_tokens, do_sample, top_k, temperature, seed,
                          eos_token_id, pad_token_id):
        """`generate` as a Python loop of eager calls with `keras.ops` (the JAX backend); same arguments."""
        ops = keras.ops
        input_ids = ops.cast(ops.convert_to_tensor(input_ids), "int32")
        mask = ops.ones_like(input_ids) if attention_mask is None else ops.cast(attention_mask, "int32")
        pad = self._pad_id(pad_token_id)
        rows = ops.shape(input_ids)[0]
        seeds = keras.random.SeedGenerator(int(seed[0]) * 1_000_003 + int(seed[1]))

        def pick(logits):
            logits = ops.cast(logits, "float32")
            if not do_sample:
                return ops.cast(ops.argmax(logits, axis=-1), "int32")
            values, indices = ops.top_k(logits / temperature, k=min(top_k, self.config.vocab_size))
            choice = keras.random.categorical(values, 1, seed=seeds, dtype="int32")
            return ops.take_along_axis(indices, choice, axis=1)[:, 0]

        out = self({"input_ids": input_ids, "attention_mask": mask}, use_cache=True)
        done = ops.zeros((rows,), "bool")
        tokens = []
        for step in range(max_new_tokens):
            token = ops.where(done, pad, pick(out.logits[:, -1]))
            tokens.append(token)
            if eos_token_id is not None:
                done = ops.logical_or(done, ops.equal(token, eos_token_id))
            if step + 1 < max_new_tokens:
                mask = ops.concatenate([mask, ops.ones((rows, 1), "int32")], axis=1)
                out = self({"input_ids": token[:, None], "attention_mask": mask,
                            "past_key_values": out.past_key_values}, use_cache=True)
        if not tokens:
            return input_ids
        return ops.concatenate([input_ids, ops.stack(tokens, axis=1)], axis=1)
