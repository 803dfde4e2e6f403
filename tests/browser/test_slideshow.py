"""A lecture as a live slideshow (issue 29, item 1): JupyterLab with jupyterlab-rise, as
`make slides` starts it. The lecture runs, opens as a RISE slideshow, the test steps through the
slides to a live ipywidgets slider (its kernel's, not genlab.viz.slider_demo's precomputed
frames: GENLAB_STATIC_SLIDERS is off, as in `make slides`), moves it and sees the kernel redraw
the figure on the slide.

jupyterlab-rise 0.43.1 (the newest) serves its own JupyterLab 4.3 page. The widget manager of
jupyterlab_widgets 3.0.11 and later needs the shared module @jupyterlab/console, which that page
does not share: there the manager does not load ("Failed to create module: package:
@jupyter-widgets/jupyterlab-manager; module: ./extension", "Shared module @jupyterlab/console
doesn't exist in shared scope default"; jupyterlab-contrib/rise#119) and a widget shows as its
text repr. So pyproject.toml holds jupyterlab_widgets below 3.0.11 (3.0.10, with ipywidgets 8.1.2
and widgetsnbextension 4.0.10), and this test fails when an upgrade lets a newer one in.

Offline, as in a lecture hall without a network: every request the page makes, JupyterLab's and
the slideshow's, stays on 127.0.0.1. reveal.js's default theme for RISE (`simple`) @imports
Google Fonts, so the lectures ask for the `white` theme (fonts bundled with jupyterlab-rise) in
their RISE metadata, and `lectures/rise.css` keeps headings as written (genlab/slides.py)."""
from __future__ import annotations

import shutil

import pytest

from genlab.course import LECTURES, REPO_ROOT
from genlab.viz import STATIC_SLIDERS

from labdriver import (
    NOTEBOOK,
    SLIDER,
    WIDGET_ERRORS,
    JupyterLab,
    leaving_the_machine,
    open_notebook,
    record_requests,
    run_all,
    tracebacks,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LECTURE = "02-gan-theory"       # short in `ci` (about 15 s) and two sliders
PRESENT = ".reveal .slides section.present"
STEPS = 150                     # more than the lecture has slides and fragments


def test_make_slides_starts_lab_with_live_widgets():
    """The slideshow shows the kernel's widgets: no precomputed frames for it (they stay for the
    pages without a kernel, `make demos` and `make site`)."""
    makefile = (REPO_ROOT / "Makefile").read_text()
    recipe = makefile[makefile.index("\nslides:"):].split("\n\n")[0]
    assert "jupyter lab" in recipe and STATIC_SLIDERS not in recipe, recipe


@pytest.fixture(scope="module")
def lecture_lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("slides-lab")
    (root / "work" / "lectures").mkdir(parents=True)
    shutil.copy(LECTURES / f"{LECTURE}.ipynb", root / "work" / "lectures")
    shutil.copy(LECTURES / "rise.css", root / "work" / "lectures")     # as `make slides` serves lectures/
    lab = JupyterLab(root / "work", root / "state", env={STATIC_SLIDERS: "0"}).start()   # live, whatever ours says
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

    live = page.locator(f"{PRESENT} .widget-interact:has({SLIDER})")
    seen = []
    for _ in range(STEPS):                      # step through (space: the next fragment or slide)
        if live.count() and live.first.is_visible():
            break
        page.keyboard.press("Space")
        page.wait_for_timeout(100)
        seen.append(page.locator(PRESENT).last.evaluate("s => s.textContent.slice(0, 40)"))
    if not (live.count() and live.first.is_visible()):
        manager = [e.splitlines()[0] for e in page.console_errors if "jupyterlab-manager" in e or "Shared module" in e]
        raise AssertionError(f"no live slider reached in {STEPS} steps (did the widget manager load in the "
                             f"slideshow?); slides: {seen[-5:]}; widget errors: {widget_texts(page)}; "
                             f"console: {manager or page.console_errors[:5]}")
    assert len(set(seen)) >= 2, "the slideshow did not advance"
    assert not page.locator(f"{PRESENT} .genlab-frames").count(), "precomputed frames on the slide, not the live widget"

    box = live.first.element_handle()            # this interact (slider and output), whichever slide shows next
    figure = "b => [...b.querySelectorAll('.widget-output img')].map(i => i.src).join(' ')"
    readout = "b => b.querySelector('.widget-readout').textContent.trim()"
    page.wait_for_function(f"b => ({figure})(b).length > 0", arg=box, timeout=60_000)
    before, label = box.evaluate(figure), box.evaluate(readout)
    track = box.query_selector(f"{SLIDER} .slider-container")
    track.scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts / "slides-slider-before.png"))
    # a click on the track, as a lecturer would (reveal.js takes the arrow keys for itself); the
    # widget sends the value to the kernel, which draws the figure again into the Output widget
    width = track.bounding_box()["width"]
    at_end = box.evaluate("b => { const h = b.querySelector('.noUi-handle'), v = n => Number(h.getAttribute(n));"
                          " return v('aria-valuenow') >= v('aria-valuemax'); }")
    track.click(position={"x": width * (0.2 if at_end else 0.8), "y": track.bounding_box()["height"] / 2})
    assert page.locator(PRESENT).last.evaluate("(s, b) => s.contains(b)", box), "the click left the slide"
    try:
        page.wait_for_function(f"([b, before]) => {{ const now = ({figure})(b); return now && now !== before; }}",
                               arg=[box, before], timeout=60_000, polling=250)
    except Exception as error:   # playwright's TimeoutError
        raise AssertionError(f"moving the slider ({label} -> {box.evaluate(readout)}) did not redraw the figure: "
                             f"{widget_texts(page)}") from error
    assert box.evaluate(readout) != label, f"the figure changed, the slider's value did not (still {label})"
    page.screenshot(path=str(artifacts / "slides-slider-after.png"))
    outside = leaving_the_machine(requests + page.blocked_requests)
    assert not outside, f"the slideshow asked the network for {outside} (offline in a lecture hall these fail)"
    assert any("/rise/" in u for u in requests) and any(u.startswith("ws://127.0.0.1") for u in requests), \
        "the requests were not recorded"


def widget_texts(page) -> list[str]:
    """What the slideshow shows instead of a widget: the widget errors of labdriver, or an
    interact's text repr (what a notebook shows where no widget manager renders it)."""
    text = page.locator(".reveal").evaluate("e => e.textContent")
    return [m for m in (*WIDGET_ERRORS, "interactive(children=") if m in text]
