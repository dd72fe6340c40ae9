"""The researchers' notebooks run headless, top to bottom, on a miniature copy of the shared data."""

import shutil
from pathlib import Path

import nbformat
import pytest
from labelled_fixture import build
from nbclient import NotebookClient

from models import ARTIFACTS_DIR
from models.registry import artifact_dir

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("nb")
    artifacts = root / "artifacts"
    for task in ("sentiment", "needs"):  # the shipped default version, to compare against
        shipped = artifact_dir(task)
        shutil.copytree(shipped, artifacts / task / shipped.name)
    return {"UNMET_SHARED_DATA": str(build(root / "data")), "UNMET_NOTEBOOK_ARTIFACTS": str(artifacts),
            "UNMET_COMPARE_ROOT": str(artifacts), "UNMET_NOTEBOOK_LIMIT": "25", "UNMET_NOTEBOOK_BOOT": "50",
            "UNMET_NOTEBOOK_VERSION": "zz-notebook-test", "UNMET_DB": str(root / "labels.duckdb"),
            "UNMET_NOTEBOOK_DEMO_LABELS": "1"}


@pytest.mark.parametrize("name", ["01_retrain_sentiment_head", "02_retrain_need_detector_with_corrections",
                                  "03_compare_model_versions"])  # in this order: 03 compares what 01-02 wrote
def test_notebook_runs(name, notebook_env, monkeypatch):
    for key, value in notebook_env.items():
        monkeypatch.setenv(key, value)
    notebook = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}
                   ).execute()
    errors = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.get("outputs", [])
              if o.get("output_type") == "error"]
    assert not errors
    if name.startswith("01"):
        assert (Path(notebook_env["UNMET_NOTEBOOK_ARTIFACTS"]) / "sentiment" / "zz-notebook-test" /
                "MODEL_CARD.md").is_file()
    assert not (ARTIFACTS_DIR / "needs" / "zz-notebook-test").exists()  # the shipped artifacts are untouched
