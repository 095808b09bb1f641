"""The package's import graph: no circle among its modules' imports (module-level, or counting those inside
functions too), and the lower layers never import the higher ones (docs/DESIGN.md, "Layers"). Read from the
source with `ast`, so nothing is imported."""

import ast
import pathlib

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / "keras_bert_suite"

#: (importing package, packages it must never import, at module level or inside a function)
FORBIDDEN = (
    ("keras_bert_suite.checkpoints", ("keras_bert_suite.tokenizers", "keras_bert_suite.models",
                                      "keras_bert_suite.layers", "keras_bert_suite.export")),
    ("keras_bert_suite.tokenizers", ("keras_bert_suite.models", "keras_bert_suite.layers",
                                     "keras_bert_suite.export", "keras_bert_suite.keras_hub_writer",
                                     "keras_bert_suite.convert")),
)


def _modules():
    """{dotted module name: path} of every module in the package."""
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name, path, modules, top_level_only):
    """The package modules that module `name` imports (at module level, or anywhere)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes, found = list(tree.body), set()
    while nodes:
        node = nodes.pop()
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            found.update(f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names)
        elif top_level_only and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        else:
            nodes.extend(ast.iter_child_nodes(node))
    return {m for m in found if m in modules and m != name}


def _cycles(graph):
    """The strongly connected components of more than one module (Tarjan's algorithm, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_cycle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_circle_among_module_level_imports():
    modules = _modules()
    graph = {name: _imports(name, path, modules, top_level_only=True) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_no_circle_through_imports_inside_functions():
    """An import inside a function hides a circle from Python, not from the reader: count those too."""
    modules = _modules()
    graph = {name: _imports(name, path, modules, top_level_only=False) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_lower_layers_do_not_import_higher_ones():
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        for package, forbidden in FORBIDDEN:
            if name == package or name.startswith(package + "."):
                wrong += [f"{name} imports {m}" for m in _imports(name, path, modules, top_level_only=False)
                          if any(m == f or m.startswith(f + ".") for f in forbidden)]
    assert wrong == []
