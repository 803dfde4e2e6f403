"""A lecture as a live slideshow (issue 29, item 1): JupyterLab with jupyterlab-rise, as
`make slides` starts it. The lecture runs, opens as a RISE slideshow, the test steps through the
slides to a slider, moves it and sees the figure change.

jupyterlab-rise 0.43.1 (the newest) is a JupyterLab 4.3 application: in its slideshow page the
widget manager of jupyterlab_widgets 3.0.17 does not load ("Failed to create module: package:
@jupyter-widgets/jupyterlab-manager; module: ./extension", "Error: Shared module
@jupyterlab/console doesn't exist in shared scope default": since 3.0.11 the manager needs the
console package, which RISE's page does not share), so live ipywidgets do not render there.
`make slides` therefore runs kernels with GENLAB_STATIC_SLIDERS=1: genlab.viz.slider_demo's
sliders also carry their precomputed frames, which the slideshow shows (JupyterLab itself
still shows the live widget).

Offline, as in a lecture hall without a network: every request the page makes, JupyterLab's and
the slideshow's, stays on 127.0.0.1. reveal.js's default theme for RISE (`simple`) @imports
Google Fonts, so the lectures ask for the `white` theme (fonts bundled with jupyterlab-rise) in
their RISE metadata, and `lectures/rise.css` keeps headings as written (genlab/slides.py)."""
from __future__ import annotations

import shutil

import pytest

from genlab.course import LECTURES, REPO_ROOT
from genlab.viz import STATIC_SLIDERS

from labdriver import NOTEBOOK, JupyterLab, leaving_the_machine, open_notebook, record_requests, run_all, tracebacks

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LECTURE = "02-gan-theory"       # short in `ci` (about 15 s) and two sliders
PRESENT = ".reveal .slides section.present"
STEPS = 150                     # more than the lecture has slides and fragments


def test_make_slides_starts_lab_with_static_sliders():
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nslides:"):].split("\n\n")[0]
    assert f"{STATIC_SLIDERS}=1" in recipe and "jupyter lab" in recipe, recipe


@pytest.fixture(scope="module")
def lecture_lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("slides-lab")
    (root / "work" / "lectures").mkdir(parents=True)
    shutil.copy(LECTURES / f"{LECTURE}.ipynb", root / "work" / "lectures")
    shutil.copy(LECTURES / "rise.css", root / "work" / "lectures")     # as `make slides` serves lectures/
    lab = JupyterLab(root / "work", root / "state", env={STATIC_SLIDERS: "1"}).start()
    yield lab
    lab.stop()
    assert not lab.orphan_kernels()


def test_a_lecture_runs_as_a_slideshow_and_its_slider_moves_the_figure(page, lecture_lab, artifacts):
    path = f"lectures/{LECTURE}.ipynb"
    requests = record_requests(page)
    open_notebook(page, lecture_lab, path)
    assert page.locator(f'{NOTEBOOK} [data-command="RISE:preview"]').count() == 1, \
        "the notebook's toolbar has no RISE button: is jupyterlab-rise installed?"
    prompts = run_all(page)
    assert not tracebacks(page), tracebacks(page)
    assert all(p[1:-2].isdigit() for p in prompts), prompts
    page.keyboard.press("Control+s")            # the slideshow opens the saved notebook, outputs included
    page.wait_for_function("() => !document.querySelector('.jp-mod-dirty')", timeout=30_000)

    page.goto(lecture_lab.url(f"rise/{path}"))
    page.wait_for_selector(PRESENT, timeout=120_000)
    page.locator(".reveal").click(position={"x": 5, "y": 5})
    assert "Lecture 2" in page.locator(PRESENT).first.inner_text(), "headings are shown as written (rise.css)"
    assert page.evaluate("() => [...document.styleSheets].some(s => (s.href || '').endsWith('/lectures/rise.css'))"), \
        "the slideshow did not load lectures/rise.css"
    page.screenshot(path=str(artifacts / "slides-first.png"))

    frames = page.locator(f"{PRESENT} .genlab-frames")
    seen = []
    for _ in range(STEPS):                      # step through (space: the next fragment or slide)
        if frames.count() and frames.first.is_visible():
            break
        page.keyboard.press("Space")
        page.wait_for_timeout(100)
        seen.append(page.locator(PRESENT).last.evaluate("s => s.textContent.slice(0, 40)"))
    assert frames.count() and frames.first.is_visible(), f"no slider reached in {STEPS} steps; slides: {seen[-5:]}"
    assert len(set(seen)) >= 2, "the slideshow did not advance"

    box = frames.first.element_handle()          # this slider, whichever slide shows next
    slider = box.query_selector("input[type=range]")
    shown = "b => b.querySelector(':scope > .genlab-frame:not([hidden]) img').src"
    before, label = box.evaluate(shown), box.query_selector("output").inner_text()
    slider.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "slides-slider-before.png"))
    # a click on the track, as a lecturer would (reveal.js takes the arrow keys for itself)
    at_end = slider.input_value() == slider.get_attribute("max")
    width = slider.bounding_box()["width"]
    slider.click(position={"x": width * (0.2 if at_end else 0.8), "y": 5})
    assert page.locator(PRESENT).last.evaluate("(s, b) => s.contains(b)", box), "the click left the slide"
    assert box.evaluate("b => b.querySelectorAll(':scope > .genlab-frame:not([hidden])').length") == 1
    assert box.evaluate(shown) != before, "moving the slider did not change the figure"
    assert box.query_selector("output").inner_text() != label
    page.screenshot(path=str(artifacts / "slides-slider-after.png"))
    outside = leaving_the_machine(requests + page.blocked_requests)
    assert not outside, f"the slideshow asked the network for {outside} (offline in a lecture hall these fail)"
    assert any("/rise/" in u for u in requests) and any(u.startswith("ws://127.0.0.1") for u in requests), \
        "the requests were not recorded"
