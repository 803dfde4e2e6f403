"""Lectures as live slideshows (JupyterLab with jupyterlab-rise): every cell carries RISE's
``slideshow.slide_type`` metadata, set by one rule (`genlab slides`), and a lecturer may change
any cell's type by hand afterwards (JupyterLab's property inspector, *Slide Type*).

The rule, in order:

- the title cell opens the deck (``slide``);
- the ``parameters`` cell is not shown (``skip``: it only picks the profile), the set-up code
  after it is a sub-slide of the title;
- a ``## `` heading starts a ``slide``, a ``### `` heading a ``subslide``;
- other markdown continues the slide it follows (``-``) after markdown, and opens a ``subslide``
  after code (the next explanation gets a fresh screen);
- every other code cell is a ``fragment``: the next step shows the code and its output.

The notebook's RISE options (``metadata.rise``) pick reveal.js's ``white`` theme: its fonts come
with jupyterlab-rise, while RISE's default theme (``simple``) and most others ``@import`` their
fonts from Google Fonts, a request that hangs or fails in a lecture hall without a network.
``lectures/rise.css`` (loaded by RISE from the notebook's folder) keeps the headings as written.
"""
from __future__ import annotations

from pathlib import Path

import nbformat

SLIDE_TYPES = ("slide", "subslide", "fragment", "skip", "notes", "-")
# notebook-level options; a lecturer's own (another offline theme, say) are kept
RISE = {"scroll": True, "transition": "none", "enable_chalkboard": False, "theme": "white"}
# the reveal.js themes of jupyterlab-rise 0.43 that load no font from the internet (the others
# @import fonts.googleapis.com: beige, blood, league, moon, night, simple, sky, solarized)
OFFLINE_THEMES = ("white", "black", "serif")


def _source(cell) -> str:
    return cell.source if isinstance(cell.source, str) else "".join(cell.source)


def _is_parameters(cell) -> bool:
    return cell.cell_type == "code" and ("parameters" in cell.metadata.get("tags", [])
                                         or "PROFILE = genlab.profile()" in _source(cell))


def slide_types(nb: nbformat.NotebookNode) -> list[str]:
    """The slide type the rule (module docstring) gives each cell of ``nb``."""
    types: list[str] = []
    seen_heading = False
    for index, cell in enumerate(nb.cells):
        first_line = _source(cell).lstrip().split("\n", 1)[0]
        previous = nb.cells[index - 1] if index else None
        if index == 0:
            kind = "slide"
        elif cell.cell_type == "markdown" and first_line.startswith("## "):
            kind, seen_heading = "slide", True
        elif cell.cell_type == "markdown" and first_line.startswith("### "):
            kind = "subslide"
        elif _is_parameters(cell):
            kind = "skip"
        elif cell.cell_type == "code" and not seen_heading and previous is not None and _is_parameters(previous):
            kind = "subslide"
        elif cell.cell_type == "code":
            kind = "fragment"
        elif cell.cell_type == "markdown":
            kind = "subslide" if previous is not None and previous.cell_type == "code" else "-"
        else:
            kind = "skip"                     # raw cells
        types.append(kind)
    return types


def apply(nb: nbformat.NotebookNode, *, reset: bool = False) -> int:
    """Give every cell without a slide type the rule's (every cell, with ``reset``), and the
    notebook the RISE options it lacks (all of :data:`RISE`, with ``reset``; a theme that needs
    the internet is replaced); return how many cells changed."""
    changed = 0
    for cell, kind in zip(nb.cells, slide_types(nb), strict=True):
        current = cell.metadata.get("slideshow", {}).get("slide_type")
        if current in SLIDE_TYPES and not reset:
            continue
        if current != kind:
            cell.metadata.setdefault("slideshow", {})["slide_type"] = kind
            changed += 1
    options = {**RISE, **({} if reset else nb.metadata.get("rise", {}))}
    if options["theme"] not in OFFLINE_THEMES:
        options["theme"] = RISE["theme"]
    if nb.metadata.get("rise") != options:
        nb.metadata["rise"] = options
    return changed


def write_slides(path: Path, *, reset: bool = False) -> int:
    """:func:`apply` to the notebook at ``path``, written back only when something changed."""
    nb = nbformat.read(path, as_version=4)
    before = nbformat.writes(nb)
    changed = apply(nb, reset=reset)
    if nbformat.writes(nb) != before:
        nbformat.write(nb, path)
    return changed


def problems(nb: nbformat.NotebookNode) -> list[str]:
    """What keeps ``nb`` from being a slideshow: cells without a valid slide type, a deck that
    does not open with a slide, a ``##`` section that does not start one, no RISE options, a
    theme that needs the internet."""
    found = []
    for index, cell in enumerate(nb.cells):
        kind = cell.metadata.get("slideshow", {}).get("slide_type")
        if kind not in SLIDE_TYPES:
            found.append(f"cell {index}: slide type {kind!r} is not one of {', '.join(SLIDE_TYPES)}")
        elif cell.cell_type == "markdown" and _source(cell).startswith("## ") and kind != "slide":
            found.append(f"cell {index}: the section {_source(cell).splitlines()[0]!r} is a {kind!r}, not a slide")
    if nb.cells and nb.cells[0].metadata.get("slideshow", {}).get("slide_type") != "slide":
        found.append("cell 0: the deck must open with a 'slide'")
    if "rise" not in nb.metadata:
        found.append("no RISE options in the notebook's metadata ('rise')")
    elif nb.metadata["rise"].get("theme") not in OFFLINE_THEMES:
        found.append(f"RISE theme {nb.metadata['rise'].get('theme')!r} loads its fonts from the internet "
                     f"(no theme: RISE's default, 'simple'); use one of {', '.join(OFFLINE_THEMES)}")
    return found
