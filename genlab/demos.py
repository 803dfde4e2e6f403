"""Execute notebooks top to bottom and export them as HTML with their figures."""
from __future__ import annotations

import os
import time
from pathlib import Path

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
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd or path.parent)}}).execute()
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return nb, time.perf_counter() - start


def export_html(nb: nbformat.NotebookNode, dest: Path) -> Path:
    """Write the executed notebook as a standalone HTML page (figures embedded)."""
    body, _ = HTMLExporter().from_notebook_node(nb)
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(body, encoding="utf-8")
    return dest
