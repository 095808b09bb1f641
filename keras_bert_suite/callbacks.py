"""Training callbacks.

`StopOnNonFiniteLoss`: stops `model.fit` at the first batch whose loss is NaN or infinite and says where
(epoch, batch, global step), instead of training on garbage. With `raise_error=True` it raises
`NonFiniteLossError` with the same message.

Example:
    >>> model.fit(data, callbacks=[StopOnNonFiniteLoss()])
"""

import logging
import math

import keras

logger = logging.getLogger("keras_bert_suite")


class NonFiniteLossError(FloatingPointError):
    """The training loss became NaN or infinite."""


class StopOnNonFiniteLoss(keras.callbacks.Callback):
    def __init__(self, raise_error=False):
        super().__init__()
        self.raise_error = raise_error
        self.epoch = 0
        self.global_step = 0
        self.stopped_at = None  # (epoch, batch, global step) once stopped
        self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.global_step += 1
        loss = (logs or {}).get("loss")
        if loss is None or math.isfinite(float(loss)):
            return
        self.stopped_at = (self.epoch, batch, self.global_step)
        self.message = (f"loss became {float(loss)} at epoch {self.epoch + 1}, batch {batch + 1} "
                        f"(global step {self.global_step}); training stopped")
        logger.error(self.message)
        self.model.stop_training = True
        if self.raise_error:
            raise NonFiniteLossError(self.message)
