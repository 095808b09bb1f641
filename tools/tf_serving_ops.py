"""Regenerate `keras_bert_suite/export/op_lists/`: the ops each TensorFlow and tensorflow-text release registers.

Each list is dumped from a real install: TensorFlow's registry (`TF_GetAllOpList`) right after `import
tensorflow` gives the core ops; what `import tensorflow_text` adds gives tensorflow-text's. The installs:

- this environment (the package's own pins, TensorFlow 2.21.0 + tensorflow-text 2.21.1);
- the TF Serving 2.20 environment of `tools/second_env.py` (TensorFlow 2.20.0 + tensorflow-text 2.20.0);
- tensorflow-text 2.20.1 over TensorFlow 2.20.0, installed with `pip install --no-deps --target` beside it, so
  that `compat` can name the release that added an op. (tensorflow-text 2.21.0 is left out: its wheel does not
  import over TensorFlow 2.21.0, "undefined symbol: icudt77_dat".)
- TF Serving 2.19.1's pins: TensorFlow 2.19.1 alone, and tensorflow-text 2.12.1 over the TensorFlow 2.12.1 it
  was built for (only its tensorflow-text list is kept).

    python tools/tf_serving_ops.py                    # all of them (creates the 2.20 environment when missing)
    python tools/tf_serving_ops.py --dump             # print this interpreter's lists as JSON (used by the above)
"""

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

# (environment: None = this one, else a second_env folder name; the name of its requirements in second_env;
# tensorflow-text releases loaded over it; the lists kept). The pins of another TF Serving release need a row.
BOTH = ("tensorflow", "tensorflow-text")
INSTALLS = (
    (None, None, (), BOTH),
    ("tf2.20-venv", "TF_SERVING_2_20", ("2.20.1",), BOTH),
    ("tf2.19-venv", "TF_2_19_1", (), ("tensorflow",)),
    ("tf2.12-venv", "TEXT_2_12_1", (), ("tensorflow-text",)),
)


def registered_ops():
    """{op name: sorted attribute names} of every op registered in this process."""
    from tensorflow.core.framework import op_def_pb2
    from tensorflow.python.client import pywrap_tf_session

    buffer = pywrap_tf_session.TF_GetAllOpList()
    try:
        data = pywrap_tf_session.TF_GetBuffer(buffer)
    finally:
        pywrap_tf_session.TF_DeleteBuffer(buffer)
    return {op.name: sorted(a.name for a in op.attr) for op in op_def_pb2.OpList.FromString(data).op}


def dump():
    """This interpreter's lists: {"tensorflow": (version, ops), "tensorflow-text": (version, ops)}."""
    import tensorflow as tf

    core = registered_ops()
    try:
        import tensorflow_text
    except ImportError:  # an environment with TensorFlow alone
        return {"tensorflow": [tf.__version__, core], "tensorflow-text": None}
    everything = registered_ops()
    text = {name: attrs for name, attrs in everything.items() if name not in core}
    return {"tensorflow": [tf.__version__, core], "tensorflow-text": [tensorflow_text.__version__, text]}


def _run_dump(python, pythonpath=None):
    from tools import second_env

    env = second_env.subprocess_env(TF_CPP_MIN_LOG_LEVEL="3")
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    proc = subprocess.run([python, os.path.abspath(__file__), "--dump"], capture_output=True, text=True,
                          env=env, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"{python} --dump failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _text_over(python, version, base):
    """Install tensorflow-text `version` (no dependencies) into a folder that shadows the environment's own."""
    target = os.path.join(base, f"tensorflow-text-{version}")
    if not os.path.exists(os.path.join(target, "tensorflow_text")):
        subprocess.run([python, "-m", "pip", "install", "-q", "--no-deps", "--target", target,
                        f"tensorflow-text=={version}"], check=True)
    return target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dump", action="store_true", help="print this interpreter's op lists as JSON")
    parser.add_argument("--out", default=None, help="folder of the lists (default: the package's op_lists/)")
    args = parser.parse_args(argv)
    if args.dump:
        print(json.dumps(dump()))
        return 0

    from keras_bert_suite.export import op_lists
    from tools import second_env

    out = args.out or op_lists.FOLDER
    written = []

    def save(lists, packages):
        for package in packages:
            version, ops = lists[package]
            file = op_lists.path(package, version, out)
            op_lists.write(file, ops, f"ops registered by {package} {version} "
                                      f"(name, tab, attribute names); tools/tf_serving_ops.py")
            written.append(f"{os.path.relpath(file, ROOT)}: {len(ops)} ops, {os.path.getsize(file)} bytes")

    for env, requirements, extra_text, kept in INSTALLS:
        python = sys.executable if env is None else second_env.ensure_venv(env, getattr(second_env, requirements))
        save(_run_dump(python), kept)
        for version in extra_text:
            folder = os.path.join(second_env.cache_dir(), "op-dumps", env or "self")
            lists = _run_dump(python, _text_over(python, version, folder))
            if lists["tensorflow-text"][0] != version:
                raise RuntimeError(f"asked for tensorflow-text {version}, imported {lists['tensorflow-text'][0]}")
            save(lists, ("tensorflow-text",))
    print("\n".join(written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
