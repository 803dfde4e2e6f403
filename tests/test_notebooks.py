"""Every lecture and every reference solution runs top to bottom in the `ci` profile."""
import pytest

from genlab.course import LECTURES, solution_path, topics
from genlab.demos import execute, export_html

NOTEBOOKS = sorted(LECTURES.glob("*.ipynb")) + [solution_path(t) for t in topics()]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_notebook_runs_in_ci_profile(path, tmp_path):
    nb, seconds = execute(path, profile="ci", cwd=tmp_path, timeout=300)
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    figures = sum("image/png" in o.get("data", {}) for c in nb.cells if c.cell_type == "code"
                  for o in c.outputs)
    assert figures >= 1, "the notebook should draw at least one figure"
    html = export_html(nb, tmp_path / f"{path.stem}.html").read_text()
    assert html.count('src="data:image/png;base64') >= figures, "figures are embedded in the HTML"
    print(f"{path.name}: {seconds:.1f} s")
