"""The TF Serving op check: ops of a SavedModel (graph and function library) against a release's op lists,
`kbs serve-check --tf-serving`, the release table, and the cached second environment's atomic creation."""

import gzip
import os
import shutil

import pytest
import tensorflow as tf
import tensorflow_text

from keras_bert_suite.cli import main
from keras_bert_suite.export import op_lists
from keras_bert_suite.export.compat import check_tf_serving, saved_model_ops
from keras_bert_suite.export.tf_serving_releases import RELEASES, release
from tools import second_env


class _Normalizer(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="text")])
    def serve(self, text):
        return {"normalized": tensorflow_text.normalize_utf8(text, "NFKC"), "length": tf.strings.length(text)}


@tf.function(jit_compile=True)
def _double(x):
    return x * 2.0


class _Doubler(tf.Module):
    @tf.function(input_signature=[tf.TensorSpec([None], tf.float32, name="x")])
    def serve(self, x):
        return {"y": _double(x)}


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A small SavedModel whose serving function uses a tensorflow-text op (NormalizeUTF8) and core ops."""
    path = tmp_path_factory.mktemp("compat") / "normalizer" / "1"
    module = _Normalizer()
    tf.saved_model.save(module, str(path), signatures={"serving_default": module.serve})
    return path


def _edited(saved, tmp_path, edit):
    """A copy of `saved` whose saved_model.pb went through `edit(node)` for every node of every function."""
    from tensorflow.core.protobuf import saved_model_pb2

    copy = tmp_path / "edited" / "1"
    shutil.copytree(saved, copy)
    proto = saved_model_pb2.SavedModel.FromString((copy / "saved_model.pb").read_bytes())
    for function in proto.meta_graphs[0].graph_def.library.function:
        for node in function.node_def:
            edit(node)
    (copy / "saved_model.pb").write_bytes(proto.SerializeToString())
    return copy


def _rename(old, new):
    def edit(node):
        if node.op == old:
            node.op = new
    return edit


def test_ops_of_graph_and_functions(saved):
    ops = saved_model_ops(saved)
    assert "NormalizeUTF8" in ops and "StringLength" in ops  # inside the library function
    assert "graph" in ops["StatefulPartitionedCall"].places  # the graph's own nodes
    assert all(not name.startswith("__inference") for name in ops)  # calls of library functions are not ops
    assert saved_model_ops(saved.parent) == ops  # a model base path: its latest version


def test_release_2_20_runs_it(saved):
    report = check_tf_serving(saved, "2.20")
    assert report.release is RELEASES["2.20.0"] and report.ok, report.format()
    assert "every op is registered in TF Serving 2.20.0" in report.format()
    assert report.xla == [] and "xla" not in report.format()


def test_xla_functions_need_the_servers_xla_flag(tmp_path):
    module = _Doubler()
    tf.saved_model.save(module, str(tmp_path / "1"), signatures={"serving_default": module.serve})
    report = check_tf_serving(tmp_path, "2.20.0")
    assert report.ok and report.xla and "--xla_cpu_compilation_enabled=true" in report.format()


def test_op_added_after_the_release_is_named_with_the_release_that_added_it(saved, tmp_path):
    newer = sorted(set(op_lists.read("tensorflow-text", "2.21.1")) - set(op_lists.read("tensorflow-text", "2.20.0")))
    newer_core = sorted(set(op_lists.read("tensorflow", "2.21.0")) - set(op_lists.read("tensorflow", "2.20.0")))
    name, origin = (newer[0], "tensorflow-text 2.2") if newer else (newer_core[0], "tensorflow 2.21.0")
    report = check_tf_serving(_edited(saved, tmp_path, _rename("NormalizeUTF8", name)), "2.20.0")
    assert not report.ok and [p.op for p in report.problems] == [name]
    assert report.problems[0].added_in.startswith(origin)
    assert f"missing op {name!r}: added in {origin}" in report.format()
    assert report.problems[0].places[0].startswith("__inference_serve")
    # TF Serving 2.19.1 still links tensorflow-text 2.12.1, which lacks the RoundRobinTrimmer's op
    report = check_tf_serving(_edited(saved, tmp_path / "b", _rename("NormalizeUTF8", "TFText>RoundRobinTrim")), "2.19")
    assert report.release.version == "2.19.1" and report.problems[0].added_in == "tensorflow-text 2.20.0"


def test_unknown_op_and_unknown_attribute(saved, tmp_path):
    report = check_tf_serving(_edited(saved, tmp_path, _rename("NormalizeUTF8", "KbsMadeUpOp")), "2.20.0")
    assert [p.op for p in report.problems] == ["KbsMadeUpOp"] and report.problems[0].added_in is None
    assert "not in any bundled TensorFlow or tensorflow-text op list" in report.format()

    def add_attr(node):
        if node.op == "StringLength":
            node.attr["made_up_attr"].b = True
    report = check_tf_serving(_edited(saved, tmp_path / "b", add_attr), "2.20.0")
    assert [(p.op, p.attr) for p in report.problems] == [("StringLength", "made_up_attr")]


def test_removed_from_the_table_is_reported(saved, monkeypatch):
    real = op_lists.read

    def without_normalize(package, version, folder=op_lists.FOLDER):
        ops = dict(real(package, version, folder))
        ops.pop("NormalizeUTF8", None)
        return ops
    monkeypatch.setattr(op_lists, "read", without_normalize)
    report = check_tf_serving(saved, "2.20.0")
    assert [p.op for p in report.problems] == ["NormalizeUTF8"]


def test_unknown_version_names_the_known_ones(saved):
    with pytest.raises(ValueError, match=r"unknown TF Serving version '1\.99'; known versions: 2\.16\.1, .*2\.20\.0"):
        check_tf_serving(saved, "1.99")
    assert release("2.19").version == "2.19.1" and release("2.20.0").tensorflow_text == "2.20.0"
    assert check_tf_serving(saved, "2.19.1").ok
    with pytest.raises(FileNotFoundError, match="no op list for tensorflow 2.18.1"):
        check_tf_serving(saved, "2.18")  # its pins' lists are not bundled


def test_cli_exit_codes(saved, tmp_path, capsys):
    assert main(["serve-check", str(saved), "--tf-serving", "2.20.0"]) == 0
    assert "every op is registered" in capsys.readouterr().out
    broken = _edited(saved, tmp_path, _rename("NormalizeUTF8", "KbsMadeUpOp"))
    assert main(["serve-check", str(broken), "--tf-serving", "2.20.0"]) == 1
    assert "missing op 'KbsMadeUpOp'" in capsys.readouterr().out
    assert main(["serve-check", str(saved), "--tf-serving", "0.1"]) == 2
    assert "known versions: 2.16.1" in capsys.readouterr().err


def test_table_and_lists():
    for r in RELEASES.values():
        assert all(s.startswith(f"https://github.com/tensorflow/serving/blob/{r.version}/") for s in r.sources)
    for package in op_lists.PACKAGES:
        assert op_lists.versions(package)
    assert "FastWordpieceTokenizeWithOffsets" in op_lists.read("tensorflow-text", "2.20.0")
    assert "MatMul" in op_lists.read("tensorflow", "2.20.0") and "MatMul" not in op_lists.read("tensorflow-text",
                                                                                                 "2.20.0")
    files = [os.path.join(op_lists.FOLDER, f) for f in os.listdir(op_lists.FOLDER)]
    assert sum(map(os.path.getsize, files)) < 200_000
    with gzip.open(files[0], "rt") as f:
        assert f.readline().startswith("# ops registered by")


def test_second_env_is_created_atomically_and_reused(tmp_path, monkeypatch):
    calls = []

    def fake_run(args, **kwargs):
        calls.append(args)
        if args[1:3] == ["-m", "venv"]:
            os.makedirs(os.path.join(args[3], "bin"))
            open(os.path.join(args[3], "bin", "python"), "w").close()
        elif len(calls) == 2:
            raise KeyboardInterrupt  # interrupted during pip install
        return type("Done", (), {"returncode": 0, "stdout": "", "stderr": ""})()
    monkeypatch.setattr(second_env.subprocess, "run", fake_run)
    with pytest.raises(KeyboardInterrupt):
        second_env.ensure_venv("env", ["pkg==1"], base=str(tmp_path))
    assert os.listdir(tmp_path) == ["env.lock"]  # nothing half-made is left to be taken for an environment
    python = second_env.ensure_venv("env", ["pkg==1"], base=str(tmp_path))
    assert python == str(tmp_path / "env" / "bin" / "python") and len(calls) == 4
    assert second_env.ensure_venv("env", ["pkg==1"], base=str(tmp_path)) == python and len(calls) == 4
    second_env.ensure_venv("env", ["pkg==2"], base=str(tmp_path))  # other pins: made again
    assert len(calls) == 6 and second_env.is_complete(str(tmp_path / "env"), ["pkg==2"])


def test_second_env_background_build_skips_a_complete_env_and_stops(tmp_path):
    done = tmp_path / "env"
    (done / "bin").mkdir(parents=True)
    (done / "bin" / "python").write_text("")
    (done / "kbs-requirements.json").write_text('{"requirements": ["pkg==1"]}')
    assert second_env.build_in_background("env", ["pkg==1"], base=str(tmp_path)) is None
    build = second_env.build_in_background("env", ["pkg==2"], base=str(tmp_path))  # other pins: a build starts
    second_env.stop_background(build)
    assert build.poll() is not None and not second_env.is_complete(str(done), ["pkg==2"])


def test_second_env_subprocesses_do_not_inherit_this_environments_keras_or_paths(monkeypatch):
    monkeypatch.setenv("TF_USE_LEGACY_KERAS", "1")  # what importing transformers' TF models sets
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = second_env.subprocess_env(TF_CPP_MIN_LOG_LEVEL="2")
    assert "TF_USE_LEGACY_KERAS" not in env and "PYTHONPATH" not in env and env["TF_CPP_MIN_LOG_LEVEL"] == "2"
