"""Execute notebooks top to bottom and export them as HTML with their figures."""
from __future__ import annotations

import copy
import inspect
import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from tqdm.auto import tqdm

from genlab.viz import STATIC_SLIDERS


def execute(path: Path, *, profile: str | None = None, timeout: int | None = 600,
            cwd: Path | None = None, nb: nbformat.NotebookNode | None = None,
            on_cell_start: Callable | None = None,
            env: dict[str, str] | None = None) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook in a fresh kernel (``GENLAB_PROFILE=profile`` if given, and the
    variables of ``env``, e.g. ``GENLAB_SMOKE``); return it and the seconds it took. Raises
    ``nbclient.exceptions.CellExecutionError`` on the first error.
    ``timeout`` is the limit per cell in seconds (None: no limit); pass ``nb`` (the notebook at
    ``path``, already read) to keep the outputs of the cells that ran when a cell fails;
    ``on_cell_start(cell=, cell_index=)`` is nbclient's hook, called before each cell.

    The kernel draws with the inline backend even when the caller set ``MPLBACKEND`` (e.g.
    to Agg in tests), so that figures land in the notebook and its HTML."""
    nb = nbformat.read(path, as_version=4) if nb is None else nb
    env = {**(env or {}), **({"GENLAB_PROFILE": profile} if profile else {})}
    saved = {k: os.environ.get(k) for k in [*env, "MPLBACKEND"]}
    os.environ.update(env)
    os.environ.pop("MPLBACKEND", None)
    start = time.perf_counter()
    try:
        client = PollingNotebookClient(nb, timeout=timeout, kernel_name="python3",
                                       resources={"metadata": {"path": str(cwd or path.parent)}})
        if on_cell_start is not None:
            client.on_cell_start = on_cell_start
        client.execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb, time.perf_counter() - start


class PollingNotebookClient(NotebookClient):
    """nbclient waits for a cell's reply with one ``shell_channel.get_msg(timeout=cell timeout)``.
    With widgets in the cell that wait sometimes misses the reply and sleeps out the whole
    timeout (jupyter/nbclient#312): lecture 06 took 321 s instead of 16 s when the other core
    was busy, in CI and here. This client polls the shell channel in 1-second slices up to
    the same deadline, so a missed wake-up costs at most a second."""

    async def async_start_new_kernel_client(self, **kwargs):
        result = await super().async_start_new_kernel_client(**kwargs)
        channel = self.kc.shell_channel
        get_msg = channel.get_msg

        async def polling_get_msg(timeout: float | None = None, **kw):
            deadline = None if timeout is None else time.monotonic() + timeout
            while True:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    msg = get_msg(timeout=1.0 if left is None else min(1.0, left), **kw)
                    return await msg if inspect.isawaitable(msg) else msg
                except Empty:
                    if left is not None and left <= 1.0:
                        raise

        channel.get_msg = polling_get_msg
        return result


LOCAL_MATHJAX = Path("/usr/share/javascript/mathjax/MathJax.js")   # Debian's libjs-mathjax

# A page without a kernel or a network: a widget's view needs both. What a widget shows instead
# (here and on the course site, site/conf.py): its HTML fallback where it has one (the frames of
# genlab.viz.slider_demo under GENLAB_STATIC_SLIDERS=1), else this note in place of its repr.
WIDGET_NOTE = ('<p class="genlab-live-widget">An interactive widget: it needs a running kernel. Open this '
               'lecture in JupyterLab (<code>make lab</code>) to use it.</p>')
WIDGET_REPR = re.compile(r"^(interactive|VBox|HBox|Box|GridBox|Tab|Accordion)\(children=")   # ipywidgets' repr
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"

# nbconvert's lab page less what loads from a CDN: require.js, and the widget manager that would
# render the widgets' saved state (the page has none, see export_html)
PAGE_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{%- block html_head_js_requirejs -%}{%- endblock html_head_js_requirejs -%}
{%- block jupyter_widgets -%}{%- endblock jupyter_widgets -%}
{%- block extra_css -%}
<style type="text/css">
.genlab-frames label { display: flex; align-items: center; gap: 0.6em; font-family: var(--jp-code-font-family); }
.genlab-frames input[type="range"] { width: 18em; }
.genlab-live-widget { font-style: italic; color: var(--jp-ui-font-color2); }
</style>
{%- endblock extra_css -%}
"""


def static_widgets(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` for a page with no kernel: without the widgets' saved state, so that each
    widget output shows its HTML fallback (a slider's frames), and a widget with none shows
    :data:`WIDGET_NOTE` instead of its repr."""
    page = copy.deepcopy(nb)
    page.metadata.pop("widgets", None)
    for cell in page.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if WIDGET_VIEW in data and "text/html" not in data and WIDGET_REPR.match(data.get("text/plain", "")):
                data["text/html"] = WIDGET_NOTE
    return page


def export_html(nb: nbformat.NotebookNode, dest: Path) -> Path:
    """Write the executed notebook as a standalone HTML page (figures embedded) that needs no
    network: widgets as :func:`static_widgets` leaves them, no script from a CDN.

    Equations are typeset by MathJax: the local copy of Debian's ``libjs-mathjax`` when it is
    installed (so the page works offline on this machine), else the CDN nbconvert uses."""
    # imported here: bench/gpu.py executes notebooks where nbconvert is not installed
    from jinja2 import DictLoader
    from nbconvert import HTMLExporter

    exporter = HTMLExporter(extra_loaders=[DictLoader({"genlab-page.html.j2": PAGE_TEMPLATE})],
                            template_file="genlab-page.html.j2")
    if LOCAL_MATHJAX.is_file():
        exporter.mathjax_url = f"{LOCAL_MATHJAX.as_uri()}?config=TeX-AMS_CHTML-full,Safe"
    body, _ = exporter.from_notebook_node(static_widgets(nb))
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(body, encoding="utf-8")
    return dest


CI_CELL_TIMEOUT = 600   # s; the ci profile's notebooks are small, a cell this long is a hang


def cell_timeout(profile: str) -> int | None:
    """The per-cell limit for lectures run in ``profile``: 600 s in ``ci``; none in ``cpu`` and
    ``gpu``, whose training cells are long by design (a lecturer's run must not die in one)."""
    return CI_CELL_TIMEOUT if profile == "ci" else None


@dataclass
class LectureRun:
    """One lecture executed by :func:`run_lectures`: ``error`` is None when it ran to the end,
    else the error's first line (and ``html`` shows the notebook up to the failing cell)."""
    lecture: str
    profile: str
    seconds: float
    error: str | None
    html: Path


def _first_line(error: BaseException) -> str:
    """The line a table shows for a failed lecture: the exception's own last line for an error
    raised in a cell (nbclient puts the whole traceback in the message), else its first line."""
    if isinstance(error, CellExecutionError) and error.ename:
        return f"{error.ename}: {error.evalue}".splitlines()[0][:200]
    text = str(error).strip().splitlines()
    return f"{type(error).__name__}: {text[0] if text else ''}"[:200]


def _mark_failure(nb: nbformat.NotebookNode, index: int | None, error: BaseException) -> None:
    """Make the failure visible in the exported page: the failing cell keeps nbclient's error
    output; a timeout or a dead kernel get theirs written in (the cell shows at most the
    KeyboardInterrupt of nbclient's interrupt)."""
    if index is None or index >= len(nb.cells) or nb.cells[index].cell_type != "code":
        nb.cells.append(nbformat.v4.new_markdown_cell(f"**This lecture stopped here:** `{_first_line(error)}`"))
        return
    outputs = nb.cells[index].setdefault("outputs", [])
    if not isinstance(error, CellExecutionError):      # a timeout shows only the interrupt's traceback
        outputs.append(nbformat.v4.new_output("error", ename=type(error).__name__,
                                              evalue=_first_line(error), traceback=[_first_line(error)]))


def _load_timings(path: Path) -> dict[str, dict[str, float]]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def _run_one(path: Path, profile: str, limit: int | None, out: Path, progress: bool) -> LectureRun:
    """One lecture, with a bar over its cells; its page is written whether or not it failed."""
    nb = nbformat.read(path, as_version=4)
    cells = tqdm(total=len(nb.cells), desc=f"  {path.stem}", unit="cell", leave=False, disable=not progress)
    current: dict[str, int | None] = {"index": None}

    def started(cell, cell_index, **_):
        current["index"] = cell_index
        cells.n = cell_index
        cells.refresh()

    start = time.perf_counter()
    error = None
    try:   # sliders carry their frames, which move in the page (genlab.viz.slider_demo)
        execute(path, profile=profile, timeout=limit, nb=nb, on_cell_start=started, env={STATIC_SLIDERS: "1"})
    except Exception as exc:                      # a failing lecture must not stop the run
        error = exc
        _mark_failure(nb, current["index"], exc)
    seconds = time.perf_counter() - start
    cells.close()
    html = export_html(nb, out / f"{path.stem}.html")
    return LectureRun(path.stem, profile, seconds, None if error is None else _first_line(error), html)


def run_lectures(paths: list[Path], profile: str, out: Path, *, timeout: int | None | str = "profile",
                 progress: bool = True) -> list[LectureRun]:
    """Execute each lecture in a fresh kernel and write ``out/<lecture>.html``; a lecture that
    fails does not stop the others, and its page is written up to the failing cell with the
    error shown. Progress: a bar over lectures (with an estimate of the time left, from the
    seconds each lecture took last time in this profile, kept in ``out/timings.json``) and one
    over the cells of the running lecture."""
    limit = cell_timeout(profile) if timeout == "profile" else timeout
    timings_path = out / "timings.json"
    timings = _load_timings(timings_path)
    known = timings.get(profile, {})
    runs: list[LectureRun] = []
    bar = tqdm(total=len(paths), desc=f"lectures ({profile})", unit="lecture", disable=not progress,
               bar_format="{desc}: {n}/{total} |{bar}| {elapsed}{postfix}")

    def time_left(done: list[LectureRun], current: int) -> str:
        mean = sum(r.seconds for r in done) / len(done) if done else None
        guesses = [known.get(p.stem, mean) for p in paths[current:]]
        if any(g is None for g in guesses):
            return "left: ?"
        return f"left: ~{sum(guesses) / 60:.0f} min"

    for i, path in enumerate(paths):
        bar.set_postfix_str(f"{path.stem} · {time_left(runs, i)}")
        runs.append(_run_one(path, profile, limit, out, progress))
        bar.write(f"{path.stem}: {'ok' if runs[-1].error is None else 'FAILED'} in {runs[-1].seconds:.0f} s")
        if runs[-1].error is None:
            known[path.stem] = round(runs[-1].seconds, 1)
        bar.update(1)
    bar.close()
    timings[profile] = known
    out.mkdir(parents=True, exist_ok=True)
    timings_path.write_text(json.dumps(timings, indent=1, sort_keys=True))
    return runs
