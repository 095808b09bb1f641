"""The Colab notebooks in examples/notebooks run top to bottom with `SMOKE = True` on the CPU, reading the local
data copies in ../shared/data, and are committed without outputs. The notebooks with a `BACKEND` parameter run in
both test runs, on the backend of the run."""

import configparser
import os
import re

import keras
import nbformat
import pytest
from nbclient import NotebookClient
from packaging.requirements import Requirement

from helpers import SHARED_DATA

NOTEBOOKS = os.path.join(os.path.dirname(__file__), "..", "examples", "notebooks")
#: the notebooks that take a BACKEND parameter ("tensorflow" or "jax").
BOTH_BACKENDS = ("sst2_classification.ipynb", "pretraining.ipynb")
LOCAL_DATA = {
    "sst2_classification.ipynb": os.path.join(SHARED_DATA, "sst2"),
    "conll2003_ner.ipynb": os.path.join(SHARED_DATA, "conll2003"),
    "squad_qa.ipynb": os.path.join(SHARED_DATA, "squad", "dev-v1.1.json"),
    "pretraining.ipynb": os.path.join(SHARED_DATA, "text", "bert_sample_text.txt"),
}


def _repository_url():
    parser = configparser.ConfigParser()
    parser.read(os.path.join(NOTEBOOKS, "..", "..", "setup.cfg"))
    return parser["metadata"]["url"]


def _install_spec(source):
    """The PACKAGE the install cell gives pip: a requirement pip can parse, naming this repository."""
    spec = re.search(r'^PACKAGE = "([^"]+)"', source, re.M).group(1)
    requirement = Requirement(spec)
    assert requirement.name == "keras-bert-suite" and requirement.url, spec
    return spec


def _notebooks():
    return sorted(name for name in os.listdir(NOTEBOOKS) if name.endswith(".ipynb"))


def test_every_notebook_is_tested_and_stripped():
    assert set(_notebooks()) == set(LOCAL_DATA)
    for name in _notebooks():
        nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "pip" in code[0].source, f"{name}: the first cell installs the package"
        assert _install_spec(code[0].source) == f"keras-bert-suite[demo,data] @ git+{_repository_url()}.git", name
        assert any("parameters" in c.metadata.get("tags", []) and "SMOKE" in c.source for c in code), name
        assert all(not c.outputs and c.execution_count is None for c in code), f"{name} holds outputs"


@pytest.mark.slow
@pytest.mark.parametrize("name", [pytest.param(name, marks=[pytest.mark.jax] if name in BOTH_BACKENDS else [])
                                  for name in sorted(LOCAL_DATA)])
def test_notebook_runs_top_to_bottom(name, tmp_path):
    nb = nbformat.read(os.path.join(NOTEBOOKS, name), as_version=4)
    parameters = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert ("BACKEND = " in parameters.source) == (name in BOTH_BACKENDS), name
    parameters.source += (f"\nSMOKE = True\nLOCAL_DATA = {LOCAL_DATA[name]!r}"
                          f"\nEXPORT_DIR = {str(tmp_path / 'export')!r}")
    if name in BOTH_BACKENDS:
        parameters.source += f"\nBACKEND = {keras.backend.backend()!r}"
    env_cell = nbformat.v4.new_code_cell('import os\nos.environ["HF_HUB_OFFLINE"] = "1"')
    nb.cells.insert(0, env_cell)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    figures = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
               if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    assert figures, f"{name} showed no plot"
