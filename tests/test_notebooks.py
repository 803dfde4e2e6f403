"""Every lecture runs top to bottom in the `ci` profile, and (`make test-smoke`) every lecture
and reference solution in the `gpu` profile under smoke (its sizes, its loops cut short) on
the CPU.

The solutions' `ci` runs are the grading tests' (tests/test_grading.py grades each reference
solution, which must get every point); here they run as an instructor opens them, in a plain
kernel, at the `gpu` profile's sizes."""
import os

import pytest

from genlab.course import LECTURES, solution_path, topics
from genlab.demos import execute, export_html

LECTURE_NOTEBOOKS = sorted(LECTURES.glob("*.ipynb"))
NOTEBOOKS = LECTURE_NOTEBOOKS + [solution_path(t) for t in topics()]
SMOKE_ENV = {"GENLAB_SMOKE": "1", "GENLAB_DEVICE": "cpu"}


def _check_outputs(nb, path, tmp_path) -> None:
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    figures = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                  for o in c.outputs)
    assert figures >= 1, "the notebook should draw at least one figure"
    html = export_html(nb, tmp_path / f"{path.stem}.html").read_text()
    assert html.count('src="data:image/png;base64') >= figures, "figures are embedded in the HTML"


@pytest.mark.slow
@pytest.mark.parametrize("path", LECTURE_NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_lecture_runs_in_ci_profile(path, tmp_path):
    nb, seconds = execute(path, profile="ci", cwd=tmp_path, timeout=300)
    _check_outputs(nb, path, tmp_path)
    print(f"{path.name}: {seconds:.1f} s")


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("GENLAB_SMOKE_TESTS") != "1",
                    reason="the gpu-profile smoke runs (about 9 CPU-minutes) run with `make test-smoke` "
                           "(GENLAB_SMOKE_TESTS=1); in `make test` they took CI past its 35-minute budget")
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_runs_in_gpu_profile_under_smoke(path, tmp_path):
    """The `gpu` configuration at its own sizes (widths, image and batch sizes, data sets) with
    its loops cut short (GENLAB_SMOKE=1), on the CPU: what a lecturer with a GPU runs, minus
    the GPU. Quality bars are printed, not enforced (genlab.checks.check_metric)."""
    nb, seconds = execute(path, profile="gpu", cwd=tmp_path, timeout=300, env=SMOKE_ENV)
    _check_outputs(nb, path, tmp_path)
    printed = "".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.outputs)
    assert "profile 'gpu'" in printed, "each notebook prints its profile (`profile {PROFILE!r} ...`): gpu here"
    print(f"{path.name} (gpu, smoke): {seconds:.1f} s")
