"""BERT's optimizers: AdamW or LAMB with a linear warm-up then linear decay of the learning rate.

As in Google's BERT: the rate climbs linearly from 0 to `learning_rate` over `warmup_steps`, then falls linearly
to `end_learning_rate` at `total_steps`; weight decay (0.01) skips biases and LayerNorm weights; gradients are
clipped to a global norm of 1.0; Adam's epsilon is 1e-6. LAMB (`keras.optimizers.Lamb`, layer-wise trust ratio)
is the choice for very large batches. With `gradient_accumulation_steps=k` the optimizer averages k batches
before each update; steps given here count updates (the schedule is stretched to count batches, which is what
Keras feeds it).

Example:
    >>> opt = create_optimizer(1e-4, total_steps=10_000, warmup_steps=1_000)           # AdamW
    >>> opt = create_optimizer(1.76e-3, total_steps=10_000, warmup_steps=1_000, name="lamb",
    ...                        gradient_accumulation_steps=4)
"""

import keras
from keras import ops

#: variable names that get no weight decay (biases, LayerNorm gamma and beta).
NO_DECAY = ("bias", "gamma", "beta")


@keras.saving.register_keras_serializable(package="keras_bert_suite")
class WarmupLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """lr(step) = peak * step / warmup for step < warmup, then a linear fall to `end_learning_rate` at
    `total_steps` (and flat after). Steps are counted from 0.

    Example:
        >>> schedule = WarmupLinearDecay(1e-4, warmup_steps=10, total_steps=100)
        >>> [round(float(schedule(step)), 8) for step in (5, 10, 100)]
        [5e-05, 0.0001, 0.0]
    """

    def __init__(self, learning_rate, warmup_steps, total_steps, end_learning_rate=0.0, name="WarmupLinearDecay"):
        super().__init__()
        if total_steps <= 0 or warmup_steps < 0 or warmup_steps > total_steps:
            raise ValueError(f"need 0 <= warmup_steps ({warmup_steps}) <= total_steps ({total_steps}), total > 0")
        self.learning_rate = float(learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.total_steps = int(total_steps)
        self.end_learning_rate = float(end_learning_rate)
        self.name = name

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak, end = self.learning_rate, self.end_learning_rate
        warmup = peak * step / max(self.warmup_steps, 1)
        decay_len = max(self.total_steps - self.warmup_steps, 1)
        progress = ops.minimum(ops.maximum(step - self.warmup_steps, 0.0) / decay_len, 1.0)
        decay = peak + (end - peak) * progress
        return ops.where(step < self.warmup_steps, warmup, decay)

    def get_config(self):
        return {
            "learning_rate": self.learning_rate,
            "warmup_steps": self.warmup_steps,
            "total_steps": self.total_steps,
            "end_learning_rate": self.end_learning_rate,
            "name": self.name,
        }


def create_optimizer(learning_rate, total_steps, warmup_steps=None, *, name="adamw", weight_decay=0.01,
                     beta_1=0.9, beta_2=0.999, epsilon=1e-6, global_clipnorm=1.0, end_learning_rate=0.0,
                     gradient_accumulation_steps=None):
    """AdamW (`name="adamw"`) or LAMB (`name="lamb"`) on a `WarmupLinearDecay` schedule.

    Args:
        learning_rate: the peak rate.
        total_steps / warmup_steps: in optimizer updates (default warm-up: 10% of the total).
        gradient_accumulation_steps: None, or k >= 2 batches averaged per update.

    Returns:
        A Keras optimizer, weight decay excluded from biases and LayerNorm weights.
    """
    warmup_steps = int(0.1 * total_steps) if warmup_steps is None else int(warmup_steps)
    k = int(gradient_accumulation_steps or 1)
    schedule = WarmupLinearDecay(learning_rate, warmup_steps * k, total_steps * k, end_learning_rate)
    kwargs = dict(learning_rate=schedule, weight_decay=weight_decay, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                  global_clipnorm=global_clipnorm, gradient_accumulation_steps=gradient_accumulation_steps)
    if name.lower() == "adamw":
        optimizer = keras.optimizers.AdamW(**kwargs)
    elif name.lower() == "lamb":
        optimizer = keras.optimizers.Lamb(**kwargs)
    else:
        raise ValueError(f"unknown optimizer {name!r}: use 'adamw' or 'lamb'")
    if weight_decay:
        optimizer.exclude_from_weight_decay(var_names=list(NO_DECAY))
    return optimizer
