"""`genlab demos` (make demos): every lecture runs even when one fails, the failing lecture's
page is written with the error shown, the run ends with a table and a non-zero exit, and the
ci profile keeps a per-cell limit that the cpu and gpu profiles do not have. The pages need no
network: sliders carry their frames, other widgets say they need a kernel, and nothing loads
from a CDN (in a browser: tests/browser/test_demos_html.py)."""
import json

import nbformat
import pytest

from genlab import cli
from genlab.demos import WIDGET_NOTE, WIDGET_VIEW, cell_timeout, run_lectures, static_widgets


def _notebook(path, *sources):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def lectures(tmp_path):
    folder = tmp_path / "lectures"
    folder.mkdir()
    _notebook(folder / "01-fails.ipynb", "print('first cell ran')", "raise ValueError('the data is missing')",
              "print('never runs')")
    _notebook(folder / "02-works.ipynb", "x = 6 * 7", "print('answer', x)")
    return folder


def test_a_failing_lecture_does_not_stop_the_others(lectures, tmp_path):
    out = tmp_path / "html"
    runs = run_lectures(sorted(lectures.glob("*.ipynb")), "ci", out, progress=False)
    assert [r.lecture for r in runs] == ["01-fails", "02-works"]
    failed, ok = runs
    assert failed.error == "ValueError: the data is missing"
    assert ok.error is None and ok.seconds > 0
    page = failed.html.read_text()
    assert "first cell ran" in page and "the data is missing" in page
    assert "answer 42" in ok.html.read_text()
    # the next run's estimate of the time left comes from the lectures that ran to the end
    assert set(json.loads((out / "timings.json").read_text())["ci"]) == {"02-works"}


def test_a_cell_past_the_limit_is_stopped_and_shown(tmp_path):
    path = _notebook(tmp_path / "03-hangs.ipynb", "import time\ntime.sleep(600)")
    [run] = run_lectures([path], "ci", tmp_path / "html", timeout=2, progress=False)
    # stopped long before the cell would have ended (the margin covers a slow kernel start)
    assert run.error and "Timeout" in run.error and run.seconds < 300
    assert "Timeout" in run.html.read_text()


def test_only_the_ci_profile_limits_a_cell():
    assert cell_timeout("ci") == 600
    assert cell_timeout("cpu") is None and cell_timeout("gpu") is None


def test_the_command_prints_a_table_and_fails_when_a_lecture_failed(lectures, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(cli, "LECTURES", lectures)
    code = cli.main(["demos", "--profile", "ci", "--out", str(tmp_path / "html")])
    table = capsys.readouterr().out
    assert code == 1
    assert "01-fails" in table and "ValueError: the data is missing" in table
    assert "02-works" in table and " ok" in table
    assert (tmp_path / "html" / "01-fails.html").is_file() and (tmp_path / "html" / "02-works.html").is_file()


def test_a_page_needs_no_network_and_its_slider_carries_its_frames(tmp_path):
    path = _notebook(tmp_path / "04-widgets.ipynb",
                     "import matplotlib.pyplot as plt\nfrom genlab.viz import slider_demo\n"
                     "slider_demo(lambda v: plt.plot([0, v]), min=0.0, max=1.0, step=0.5)",
                     "import ipywidgets as w\nw.interactive(lambda k: k, k=(0, 3))")
    [run] = run_lectures([path], "ci", tmp_path / "html", progress=False)
    page = run.html.read_text()
    assert run.error is None, run.error
    assert page.count('class="genlab-frame"') == 3 and WIDGET_NOTE in page
    for remote in ("require.min.js", "@jupyter-widgets/html-manager", "widget-state+json", "widget-view+json"):
        assert remote not in page, remote


def test_static_widgets_keeps_the_fallbacks_and_leaves_the_notebook_alone():
    view = {WIDGET_VIEW: {"model_id": "m", "version_major": 2, "version_minor": 0}}
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("", outputs=[
        nbformat.v4.new_output("display_data", data={**view, "text/plain": "interactive(children=(IntSlider(",
                                                     "text/html": "<div>frames</div>"}),
        nbformat.v4.new_output("display_data", data={**view, "text/plain": "interactive(children=(IntSlider("}),
        nbformat.v4.new_output("display_data", data={**view, "text/plain": "  3%|  | 3/100"}),
    ])])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}}}
    page = static_widgets(nb)
    assert "widgets" not in page.metadata and "widgets" in nb.metadata
    frames, live, progress = (o["data"] for o in page.cells[0].outputs)
    assert frames["text/html"] == "<div>frames</div>" and live["text/html"] == WIDGET_NOTE
    assert "text/html" not in progress                   # a progress bar keeps its text
    assert "text/html" not in nb.cells[0].outputs[1]["data"]
