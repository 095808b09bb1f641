"""Training callbacks.

`StopOnNonFiniteLoss`: Keras's `TerminateOnNaN` (which finds the NaN or infinite loss and stops `model.fit`, or
raises with `raise_error=True`), saying where it stopped: epoch, batch and global step, in the log, in
`stopped_at` and in the `NonFiniteLossError` it raises with `raise_error=True`.

Example:
    >>> import numpy as np, keras
    >>> model = keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)])
    >>> model.compile(optimizer=keras.optimizers.SGD(1e30), loss="mse")
    >>> stop = StopOnNonFiniteLoss()
    >>> _ = model.fit(np.ones((8, 1)) * 1e10, np.ones((8, 1)), batch_size=2, epochs=5, verbose=0,
    ...               callbacks=[stop])
    Batch 1: Invalid loss, terminating training
    >>> stop.stopped_at  # (epoch, batch, global step)
    (0, 1, 2)
"""

import logging

import keras

logger = logging.getLogger("keras_bert_suite")


class NonFiniteLossError(FloatingPointError, RuntimeError):
    """The training loss became NaN or infinite (a `RuntimeError` too, as Keras's `TerminateOnNaN` raises)."""


class StopOnNonFiniteLoss(keras.callbacks.TerminateOnNaN):
    """`keras.callbacks.TerminateOnNaN` that names the epoch, batch and global step where the loss went bad.

    Keras's callback checks the loss and stops training (or raises); this one counts epochs and steps, logs
    the place, keeps it in `stopped_at` = (epoch, batch, global step), 0-based, and its text in `message`.

    Args:
        raise_error: raise `NonFiniteLossError` (the message names the place) instead of stopping gracefully.

    Example:
        >>> stop = StopOnNonFiniteLoss(raise_error=True)
        >>> stop.stopped_at is None, isinstance(stop, keras.callbacks.TerminateOnNaN)
        (True, True)
    """

    def __init__(self, raise_error=False):
        super().__init__(raise_error=raise_error)
        self.epoch = 0
        self.global_step = 0
        self.stopped_at = None  # (epoch, batch, global step) once stopped
        self.message = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.global_step += 1
        was_stopping = self.model.stop_training
        try:
            super().on_train_batch_end(batch, logs)
        except RuntimeError as exc:
            raise NonFiniteLossError(self._where(batch, logs)) from exc
        if self.model.stop_training and not was_stopping:
            self._where(batch, logs)

    def _where(self, batch, logs):
        """Record and log where the loss went bad; the message."""
        self.stopped_at = (self.epoch, batch, self.global_step)
        self.message = (f"loss became {float(logs['loss'])} at epoch {self.epoch + 1}, batch {batch + 1} "
                        f"(global step {self.global_step}); training stopped")
        logger.error(self.message)
        return self.message
