"""Sphinx configuration of the course site. Build it with `make site` (or `genlab site`), which
writes the sources (index.md generated from the notebooks, lectures/ copied) and passes the
profile and the execution cache: genlab/site.py."""
from __future__ import annotations

from pathlib import Path

import jupyter_cache.executors.utils as jc_utils
from docutils import nodes
from myst_nb.core.render import NbElementRenderer

from genlab.demos import WIDGET_NOTE, WIDGET_REPR, PollingNotebookClient
from genlab.site import MATHJAX_CONFIG, copy_mathjax

project = "genlab"
author = "the genlab course"
copyright = "the genlab course (MIT licence)"

extensions = ["myst_nb", "sphinx.ext.mathjax"]
root_doc = "index"
exclude_patterns = ["_build", "**.ipynb_checkpoints"]

# Executed once, built many times: each lecture runs in a kernel only when its code changed since
# the execution kept in the cache (genlab/site.py passes nb_execution_cache_path per profile).
nb_execution_mode = "cache"
nb_execution_raise_on_error = True       # a lecture that fails stops the build, with its traceback
nb_execution_show_tb = True
nb_execution_timeout = 600               # per cell; genlab/site.py passes the profile's limit
nb_merge_streams = True
myst_enable_extensions = ["dollarmath", "amsmath"]
myst_update_mathjax = False

# No kernel, no network: a widget's view needs both. An output with an HTML fallback shows that
# (genlab.viz.slider_demo's precomputed frames), a progress bar its text; a widget with neither
# shows a note (_widget_note), and neither the widgets' state nor the CDN widget manager goes
# into the pages.
nb_mime_priority_overrides = [("html", "application/vnd.jupyter.widget-view+json", None)]
nb_ipywidgets_js = {}

# Equations: Debian's MathJax 2, copied into _static/mathjax (copy_mathjax, on builder-inited).
mathjax_path = f"mathjax/MathJax.js?config={MATHJAX_CONFIG}"
mathjax2_config = {"tex2jax": {"inlineMath": [["\\(", "\\)"]], "displayMath": [["\\[", "\\]"]]},
                   "messageStyle": "none", "menuSettings": {"zoom": "None"}}

html_theme = "sphinx_book_theme"
html_title = "genlab — deep generative models"
html_static_path = ["_static"]
html_css_files = ["genlab.css"]
html_theme_options = {
    "show_toc_level": 2,
    "use_download_button": False,
    "use_fullscreen_button": False,
    "use_repository_button": False,
}
html_context = {"default_mode": "light"}     # else pydata-sphinx-theme logs "invalid theme mode"
html_show_sourcelink = False


def _polling_execute(nb, cwd=None, km=None, **kwargs):
    """jupyter-cache's executor with genlab's polling client (genlab.demos.PollingNotebookClient:
    nbclient can miss a widget cell's reply and sleep out the whole timeout)."""
    resources = {"metadata": {"path": cwd}} if cwd is not None else {}
    return PollingNotebookClient(nb=nb, resources=resources, km=km, **kwargs).execute()


jc_utils.executenb = _polling_execute

_render_text_plain = NbElementRenderer.render_text_plain


def _widget_note(self, data):
    """A widget's text fallback is its repr, e.g. ``interactive(children=(FloatSlider(...``: say
    what it is instead."""
    if WIDGET_REPR.match(data.string):
        return [nodes.raw("", WIDGET_NOTE, format="html")]
    return _render_text_plain(self, data)


NbElementRenderer.render_text_plain = _widget_note
NbElementRenderer.render_nb_finalise = lambda self, metadata: None    # only embeds the widgets' state


def _static_assets(app) -> None:
    static = Path(app.outdir) / "_static"
    static.mkdir(parents=True, exist_ok=True)
    copy_mathjax(static)


def setup(app):
    app.add_config_value("genlab_profile", "cpu", "env")    # a change of profile re-reads every page
    app.connect("builder-inited", _static_assets)
