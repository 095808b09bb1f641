"""The ops each TensorFlow and tensorflow-text release registers, as bundled lists.

`op_lists/tensorflow-2.20.0.txt.gz` holds TensorFlow 2.20.0's core ops, `op_lists/tensorflow-text-2.20.0.txt.gz`
the ops that importing tensorflow-text 2.20.0 adds. Each line is an op name, a tab, and the op's attribute
names separated by spaces. `tools/tf_serving_ops.py` dumps them from real installs.

Example:
    >>> ops = read("tensorflow-text", "2.20.0")
    >>> "FastWordpieceTokenizeWithOffsets" in ops, ops["NormalizeUTF8"]
    (True, frozenset({'normalization_form'}))
"""

import functools
import gzip
import os
import re

from keras_bert_suite.io import atomic_path

FOLDER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "op_lists")
PACKAGES = ("tensorflow", "tensorflow-text")


def path(package, version, folder=FOLDER):
    if package not in PACKAGES:
        raise ValueError(f"op lists exist for {PACKAGES}, not {package!r}")
    return os.path.join(folder, f"{package}-{version}.txt.gz")


def _key(version):
    return tuple(int(p) for p in version.split("."))


def versions(package, folder=FOLDER):
    """The bundled versions of `package`, oldest first."""
    pattern = re.compile(re.escape(package) + r"-(\d+\.\d+\.\d+)\.txt\.gz")
    found = [m.group(1) for m in map(pattern.fullmatch, os.listdir(folder)) if m]
    return sorted(found, key=_key)


@functools.lru_cache(maxsize=None)
def read(package, version, folder=FOLDER):
    """{op name: frozenset of attribute names} registered by `package` at `version`.

    Raises:
        FileNotFoundError: no list for that release; the message names the bundled ones.
    """
    file = path(package, version, folder)
    if not os.path.exists(file):
        raise FileNotFoundError(f"no op list for {package} {version} ({file}); bundled: "
                                f"{', '.join(versions(package, folder)) or 'none'}; tools/tf_serving_ops.py makes one")
    ops = {}
    with gzip.open(file, "rt", encoding="utf-8") as f:
        for line in f:
            if line.startswith("#") or not line.strip():
                continue
            name, _, attrs = line.rstrip("\n").partition("\t")
            ops[name] = frozenset(attrs.split())
    return ops


def write(file, ops, header):
    """Write {op name: attribute names} to `file` (gzip, reproducible bytes), atomically."""
    lines = [f"# {header}\n"] + [f"{name}\t{' '.join(sorted(attrs))}\n" for name, attrs in sorted(ops.items())]
    with atomic_path(file) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=9, mtime=0,
                                                   filename="") as f:
            f.write("".join(lines).encode("utf-8"))


def first_with(op, attr=None, after=None):
    """The first bundled release ("tensorflow-text 2.21.0") that registers `op` (with `attr`, if given), among
    those newer than `after` = {package: version}; None when no bundled list has it."""
    found = []
    for package in PACKAGES:
        for version in versions(package):
            if after and package in after and _key(version) <= _key(after[package]):
                continue
            attrs = read(package, version).get(op)
            if attrs is not None and (attr is None or attr in attrs):
                found.append((package, version))
                break
    return " or ".join(f"{p} {v}" for p, v in found) or None
