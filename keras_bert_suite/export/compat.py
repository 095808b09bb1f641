"""Will a TF Serving release run this SavedModel? A static check of the ops it uses.

`saved_model_ops(path)` reads `saved_model.pb` (no model is loaded) and lists every op of the graph and of
every function in its library, with the attributes each node sets. `check_tf_serving(path, "2.20.0")` compares
them with what that TF Serving release links (`tf_serving_releases.py`): TensorFlow's core ops of its
TensorFlow release plus the ops of its pinned tensorflow-text release (`op_lists.py`). An op it lacks, or an
attribute its op definition lacks (a node attribute a newer release added), would make the server refuse the
model; the report names each one, where it is used, and the release that added it. It also lists the functions
marked for XLA (`_XlaMustCompile`, exports with `jit_compile=True`): TF Serving turns XLA off unless started with
`--xla_cpu_compilation_enabled=true` (`tensorflow_serving/model_servers/main.cc`), and then fails their first
request.

Example:
    >>> report = check_tf_serving("savedmodels/sst2", "2.20")
    >>> report.ok, len(report.ops)
    (True, 97)
    >>> print(report.format())
"""

import dataclasses
import os

from keras_bert_suite.export import op_lists
from keras_bert_suite.export.inspect import resolve_version
from keras_bert_suite.export.tf_serving_releases import release


@dataclasses.dataclass
class OpUse:
    """Where an op is used in a SavedModel: `places` (function names, or "graph"); `attrs` the attribute
    names its nodes set, each with the places that set it."""

    places: set = dataclasses.field(default_factory=set)
    attrs: dict = dataclasses.field(default_factory=dict)
    xla_functions: set = dataclasses.field(default_factory=set)  # the functions its nodes call with XLA


@dataclasses.dataclass
class Problem:
    """An op (or an op's attribute, when `attr` is set) the release lacks; `added_in` the first bundled release
    that has it ("tensorflow-text 2.21.0"), or None when no bundled list has it."""

    op: str
    places: list
    added_in: str = None
    attr: str = None

    def describe(self):
        what = f"op {self.op!r}" if self.attr is None else f"attribute {self.attr!r} of op {self.op!r}"
        where = ", ".join(self.places[:3]) + (f" and {len(self.places) - 3} more" if len(self.places) > 3 else "")
        origin = f"added in {self.added_in}" if self.added_in else \
            "not in any bundled TensorFlow or tensorflow-text op list (a custom op?)"
        return f"{what}: {origin}; used in {where}"


@dataclasses.dataclass
class Report:
    """The result of `check_tf_serving`: the SavedModel `path`, the `release`, `ops` {name: OpUse} and
    `problems` (empty when the release can run the model)."""

    path: str
    release: object
    ops: dict
    problems: list

    @property
    def ok(self):
        return not self.problems

    @property
    def xla(self):
        """The functions called XLA-compiled (`_XlaMustCompile`); empty when the model needs no XLA."""
        return sorted(set().union(*(use.xla_functions for use in self.ops.values())))

    def format(self):
        r = self.release
        lines = [f"TF Serving {r.version} links tensorflow {r.tensorflow} and tensorflow-text {r.tensorflow_text}",
                 f"  (pins from {r.sources[0]})",
                 f"{self.path}: {len(self.ops)} distinct ops"]
        if self.ok:
            lines.append(f"every op is registered in TF Serving {r.version}")
        else:
            lines.append(f"TF Serving {r.version} cannot load it: {len(self.problems)} problem(s)")
            lines += [f"  missing {p.describe()}" for p in self.problems]
        if self.xla:
            lines.append(f"{len(self.xla)} function(s) run XLA-compiled: start TF Serving with "
                         f"--xla_cpu_compilation_enabled=true (XLA is off by default), or export with "
                         f"jit_compile=False")
        return "\n".join(lines)


def _read_saved_model(path):
    from tensorflow.core.protobuf import saved_model_pb2

    file = os.path.join(path, "saved_model.pb")
    proto = saved_model_pb2.SavedModel()
    with open(file, "rb") as f:
        try:
            proto.ParseFromString(f.read())
        except Exception as e:  # protobuf's DecodeError
            raise ValueError(f"{file} is not a SavedModel proto: {e}") from e
    return proto


def saved_model_ops(path):
    """{op name: OpUse} for every node of every meta graph in the SavedModel at `path` (a version folder, or a
    model base path: its latest version), functions of the library included.

    A node whose op names a library function (a direct call) is not an op; the function's own nodes are listed.
    """
    proto = _read_saved_model(resolve_version(path))
    ops = {}
    for meta_graph in proto.meta_graphs:
        graph = meta_graph.graph_def
        functions = {f.signature.name for f in graph.library.function}
        bodies = [("graph", graph.node)] + [(f.signature.name, f.node_def) for f in graph.library.function]
        for place, nodes in bodies:
            for node in nodes:
                if node.op in functions:
                    continue
                use = ops.setdefault(node.op, OpUse())
                use.places.add(place)
                for attr in node.attr:
                    if not attr.startswith("_"):  # "_"-attributes are internal and never checked
                        use.attrs.setdefault(attr, set()).add(place)
                if "_XlaMustCompile" in node.attr and node.attr["_XlaMustCompile"].b:
                    use.xla_functions.add(node.attr["f"].func.name if "f" in node.attr else place)
    return ops


def check_tf_serving(path, version):
    """Check the SavedModel at `path` against TF Serving `version` ("2.20.0", or "2.20": its latest patch).

    Returns:
        a `Report`; `report.ok` is False when an op or an op attribute the model uses is missing there.

    Raises:
        ValueError: unknown TF Serving version (the message lists the known ones).
        FileNotFoundError: no SavedModel at `path`, or no bundled op list for that release's pins.
    """
    target = release(version)
    registered = {**op_lists.read("tensorflow", target.tensorflow),
                  **op_lists.read("tensorflow-text", target.tensorflow_text)}
    pins = {"tensorflow": target.tensorflow, "tensorflow-text": target.tensorflow_text}
    ops = saved_model_ops(path)
    problems = []
    for name, use in sorted(ops.items()):
        if name not in registered:
            problems.append(Problem(name, sorted(use.places), op_lists.first_with(name, after=pins)))
            continue
        for attr, places in sorted(use.attrs.items()):
            if attr not in registered[name]:
                problems.append(Problem(name, sorted(places), op_lists.first_with(name, attr, after=pins), attr))
    return Report(resolve_version(path), target, ops, problems)
