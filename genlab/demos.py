"""Execute notebooks top to bottom and export them as HTML with their figures."""
from __future__ import annotations

import inspect
import os
import time
from pathlib import Path
from queue import Empty

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter


def execute(path: Path, *, profile: str | None = None, timeout: int = 600,
            cwd: Path | None = None) -> tuple[nbformat.NotebookNode, float]:
    """Run a notebook in a fresh kernel (``GENLAB_PROFILE=profile`` if given); return it and
    the seconds it took. Raises ``nbclient.exceptions.CellExecutionError`` on the first error.

    The kernel draws with the inline backend even when the caller set ``MPLBACKEND`` (e.g.
    to Agg in tests), so that figures land in the notebook and its HTML."""
    nb = nbformat.read(path, as_version=4)
    env = {"GENLAB_PROFILE": profile} if profile else {}
    saved = {k: os.environ.get(k) for k in [*env, "MPLBACKEND"]}
    os.environ.update(env)
    os.environ.pop("MPLBACKEND", None)
    start = time.perf_counter()
    try:
        PollingNotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd or path.parent)}}).execute()
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


def export_html(nb: nbformat.NotebookNode, dest: Path) -> Path:
    """Write the executed notebook as a standalone HTML page (figures embedded).

    Equations are typeset by MathJax: the local copy of Debian's ``libjs-mathjax`` when it is
    installed (so the page works offline on this machine), else the CDN nbconvert uses."""
    exporter = HTMLExporter()
    if LOCAL_MATHJAX.is_file():
        exporter.mathjax_url = f"{LOCAL_MATHJAX.as_uri()}?config=TeX-AMS_CHTML-full,Safe"
    body, _ = exporter.from_notebook_node(nb)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(body, encoding="utf-8")
    return dest
