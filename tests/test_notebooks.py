"""Every notebook runs headless, top to bottom, on a small budget; and none is committed with outputs."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

SMALL = {
    "quickstart": "EPISODES = 2\nPLAN_SAMPLES = 8\nPLAN_ITERATIONS = 1",
    "energy_landscape": "TASK, OBJECT = 'grasp', 'box'\nSTATES = 2\nPOINTS = 5",
    "planning_horizons": (
        "CELLS = [('reach', 'box')]\nHORIZONS = [1, 2]\nSAMPLES = [8, 16]\nBASE_SAMPLES, BASE_HORIZON = 8, 1\n"
        "ITERATIONS = 1\nTRIALS = 1"
    ),
}


def test_every_notebook_has_a_small_budget_here():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted(SMALL)


def with_parameters(book: nbformat.NotebookNode, overrides: str) -> nbformat.NotebookNode:
    """Insert ``overrides`` as a cell right after the cell tagged ``parameters`` (as papermill does)."""
    tagged = [i for i, c in enumerate(book.cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "a notebook needs exactly one cell tagged 'parameters'"
    book.cells.insert(tagged[0] + 1, nbformat.v4.new_code_cell(overrides))
    return book


@pytest.mark.parametrize("name", sorted(SMALL))
def test_notebook_runs_headless(name, tmp_path):
    book = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    overrides = SMALL[name]
    if "OUT = " in "".join(c.source for c in book.cells if c.cell_type == "code"):
        overrides += f"\nOUT = Path({str(tmp_path / 'out')!r})"
    client = NotebookClient(
        with_parameters(book, overrides),
        timeout=600,
        kernel_name="python3",
        resources={"metadata": {"path": str(NOTEBOOKS)}},
    )
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    errors = [o for c in book.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.output_type == "error"]
    assert not errors
    if "OUT = " in overrides:
        assert any((tmp_path / "out").iterdir()), "the notebook wrote nothing under OUT"


@pytest.mark.parametrize("path", sorted(NOTEBOOKS.glob("*.ipynb")), ids=lambda p: p.stem)
def test_notebooks_are_committed_without_outputs(path):
    book = nbformat.read(path, as_version=4)
    nbformat.validate(book)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: run `nbstripout` on it"
