"""The one error type that every checkpoint reader and writer raises for a bad or unreadable checkpoint.

A `CheckpointError` always names the file it is about and, where one weight is at fault, that weight, so a user
with a broken download knows which file to fetch again. It subclasses `ValueError`: the file's contents are the
bad value. A path that does not exist at all raises the built-in `FileNotFoundError` instead.

Example:
    >>> str(CheckpointError("truncated header", path="model.safetensors", weight="bert.pooler.dense.weight"))
    "model.safetensors: weight 'bert.pooler.dense.weight': truncated header"
"""

import os


class CheckpointError(ValueError):
    """A checkpoint file is corrupt, truncated, incomplete, of an unknown layout, or cannot be read here.

    Attributes:
        path: the file (or checkpoint prefix / folder) the error is about, or None.
        weight: the weight name at fault, or None.
        detail: the message without the file and weight.
    """

    def __init__(self, message, path=None, weight=None):
        self.path = os.fspath(path) if path is not None else None
        self.weight = weight
        self.detail = message
        prefix = ""
        if self.path is not None:
            prefix += f"{self.path}: "
        if weight is not None:
            prefix += f"weight {weight!r}: "
        super().__init__(prefix + str(message))

    def __reduce__(self):
        return (type(self), (self.detail, self.path, self.weight))


def load_json(path, what="not valid JSON"):
    """The parsed contents of the JSON file `path`; unreadable or invalid JSON is a CheckpointError naming it."""
    import json

    try:
        with open(path, "rb") as f:
            return json.loads(f.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CheckpointError(f"{what} ({describe(exc)})", path=path) from exc


def describe(exc: BaseException) -> str:
    """A one-line `Type: message` description of a lower-level exception, for wrapping in a CheckpointError."""
    text = " ".join(str(exc).split())
    if len(text) > 300:
        text = text[:300] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
