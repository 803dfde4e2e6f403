"""Every lecture is a slideshow (issue 29, item 1): each cell has a RISE slide type, given by the
rule of genlab/slides.py (`genlab slides`) or by hand. The slideshow in a browser:
tests/browser/test_slideshow.py."""
from __future__ import annotations

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from genlab.course import LECTURES
from genlab.slides import RISE, apply, problems, slide_types


@pytest.mark.parametrize("path", sorted(LECTURES.glob("*.ipynb")), ids=lambda p: p.stem)
def test_every_lecture_is_a_slideshow(path):
    nb = nbformat.read(path, as_version=4)
    assert not problems(nb), f"{path.name}: {problems(nb)}; run `genlab slides {path.stem[:2]}`"
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    assert kinds.count("slide") >= 3 and "fragment" in kinds


def _deck():
    return new_notebook(cells=[
        new_markdown_cell("# Lecture 1 — X\n\n**Learning goals.**"),
        new_code_cell("import genlab\nPROFILE = genlab.profile()", metadata={"tags": ["parameters"]}),
        new_code_cell("import torch"),
        new_markdown_cell("## 1. A section"),
        new_markdown_cell("More text."),
        new_code_cell("x = 1"),
        new_markdown_cell("What x shows."),
        new_markdown_cell("### A detail"),
        new_code_cell("x"),
    ])


def test_the_rule():
    assert slide_types(_deck()) == ["slide", "skip", "subslide", "slide", "-", "fragment", "subslide",
                                    "subslide", "fragment"]


def test_apply_keeps_a_hand_set_type_unless_reset():
    nb = _deck()
    nb.cells[5].metadata["slideshow"] = {"slide_type": "slide"}       # the lecturer's choice
    assert apply(nb) == 8 and nb.cells[5].metadata["slideshow"]["slide_type"] == "slide"
    assert not problems(nb) and nb.metadata["rise"]["scroll"] is True
    assert apply(nb) == 0
    assert apply(nb, reset=True) == 1 and nb.cells[5].metadata["slideshow"]["slide_type"] == "fragment"


def test_problems_name_the_cell():
    nb = _deck()
    apply(nb)
    nb.cells[3].metadata["slideshow"]["slide_type"] = "fragment"
    del nb.cells[4].metadata["slideshow"]
    found = problems(nb)
    assert any("cell 3" in p and "'## 1. A section'" in p for p in found)
    assert any(p.startswith("cell 4: slide type None") for p in found)


def test_the_slideshow_theme_needs_no_internet():
    """RISE's default reveal.js theme, `simple`, @imports Google Fonts: a deck without a theme, or
    with one of those, is a problem; `apply` gives it the offline `white` and keeps a lecturer's
    other offline choice and options (tests/browser/test_slideshow.py sees no request leave)."""
    nb = _deck()
    apply(nb)
    assert nb.metadata["rise"]["theme"] == "white" and not problems(nb)
    for theme in (None, "simple", "sky"):
        nb.metadata["rise"] = {"scroll": True} if theme is None else {"theme": theme}
        assert any("loads its fonts from the internet" in p for p in problems(nb)), theme
        apply(nb)
        assert nb.metadata["rise"]["theme"] == "white" and not problems(nb)
    nb.metadata["rise"] = {"theme": "serif", "transition": "fade"}
    apply(nb)
    assert nb.metadata["rise"] == {"scroll": True, "enable_chalkboard": False, "theme": "serif", "transition": "fade"}
    apply(nb, reset=True)
    assert nb.metadata["rise"] == RISE


def test_the_lectures_stylesheet_sits_beside_them():
    """RISE loads rise.css from the notebook's folder: lectures/rise.css keeps headings as written."""
    css = (LECTURES / "rise.css").read_text()
    assert "--r-heading-text-transform: none" in css
