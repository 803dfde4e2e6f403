"""The course site (`make site`, issue 29) as a reader sees it, with the network blocked: the
index leads to three lectures, their equations are typeset by the site's own MathJax, every
figure loads, a slider moves its figure, and no request leaves the machine. Then a text edit is
rebuilt from the cached executions, without a kernel.

The site is built in the `ci` profile from copies of three lectures (so that the test can edit
one), with a jupyter-cache of its own."""
from __future__ import annotations

import json
import shutil
import time

import nbformat
import pytest

from genlab.course import LECTURES
from genlab.site import build

from labdriver import private_env

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# three short lectures in `ci`; 01 and 02 have sliders (genlab.viz.slider_demo)
CHOSEN = ["01-autoencoders-pca", "02-gan-theory", "03-wgan"]
SLIDER_LECTURE = "01-autoencoders-pca"

TYPESET = """() => new Promise(done => {
    const ready = () => window.MathJax && MathJax.Hub && MathJax.isReady;
    const wait = () => ready() ? MathJax.Hub.Queue(() => done(true)) : setTimeout(wait, 50);
    wait();
})"""

PAGE_STATE = """() => {
    const main = document.querySelector('main') || document.body;
    const maths = [...main.querySelectorAll('.math')];
    // the text a reader reads, outside code, outputs and MathJax's own (hidden) source
    const skip = 'pre, code, script, style, .cell_output, .MathJax_Preview, .MJX_Assistive_MathML';
    const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT,
        {acceptNode: n => n.parentElement.closest(skip) ? NodeFilter.FILTER_REJECT : NodeFilter.FILTER_ACCEPT});
    let prose = '';
    while (walker.nextNode()) prose += walker.currentNode.textContent;
    return {
        maths: maths.length,
        untypeset: maths.filter(m => !m.querySelector('.mjx-chtml, .MJXc-display, .mjx-math'))
                        .map(m => m.textContent.slice(0, 80)),
        raw: ['$$', '\\\\begin{', '\\\\frac', '\\\\(', '\\\\['].filter(s => prose.includes(s)),
        images: [...document.images].map(i => ({src: i.src.slice(0, 60), ok: i.complete && i.naturalWidth > 0})),
    };
}"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site built once for the module: (build result, its lectures' folder, the build's
    arguments). The first build executes every chosen lecture."""
    root = tmp_path_factory.mktemp("site")
    lectures = root / "lectures"
    lectures.mkdir()
    for name in CHOSEN:
        shutil.copy2(LECTURES / f"{name}.ipynb", lectures / f"{name}.ipynb")
    args = dict(profile="ci", out=root / "site", lectures=sorted(lectures.glob("*.ipynb")),
                cache=root / "cache", env=private_env(root / "env"))
    first = build(**args)
    assert first.executed == CHOSEN, f"the first build runs every lecture: {first.executed}\n{first.log[-2000:]}"
    return first, lectures, args


def test_reader_follows_the_index_to_three_lectures_offline(site, page, artifacts):
    first, _, _ = site
    requests: list[str] = []
    failed: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    # a missing file fails with net::ERR_FILE_NOT_FOUND; ERR_ABORTED is a load cut short by the
    # next navigation (MathJax still loading its parts when the test clicks on)
    page.on("requestfailed", lambda r: "ERR_ABORTED" in (r.failure or "")
            or failed.append(f"{r.url[:120]}: {r.failure}"))
    index = first.out / "index.html"
    page.goto(index.as_uri(), wait_until="load")
    headings = page.locator("article h2").all_inner_texts()
    assert len(headings) == len(CHOSEN), headings
    text = page.locator("article").inner_text()
    assert "What the lecture teaches" in text and "What the assignment grades" in text
    assert "Task 1 — PCA by SVD (15 points)" in text

    for n, name in enumerate(CHOSEN, 1):
        page.goto(index.as_uri(), wait_until="load")
        page.get_by_role("link", name=f"Open lecture {n} →", exact=True).click()
        page.wait_for_load_state("load")
        assert page.url.endswith(f"lectures/{name}.html"), page.url
        page.evaluate(TYPESET)
        state = page.evaluate(PAGE_STATE)
        assert state["maths"] >= 5 and not state["untypeset"], f"{name}: equations left as source: {state['untypeset']}"
        assert not state["raw"], f"{name}: raw LaTeX in the page's text: {state['raw']}"
        images = state["images"]
        assert len(images) >= 3 and all(i["ok"] for i in images), f"{name}: {[i for i in images if not i['ok']]}"
        page.screenshot(path=str(artifacts / f"site-{name}.png"), full_page=True)
        if n < len(CHOSEN):    # navigation: the page links to the next lecture
            assert page.locator("a.right-next").get_attribute("href").endswith(f"{CHOSEN[n]}.html")

    page.goto((first.out / "lectures" / f"{SLIDER_LECTURE}.html").as_uri(), wait_until="load")
    frames = page.locator(".genlab-frames").first
    frames.scroll_into_view_if_needed()
    slider = frames.locator("input[type=range]")
    shown = frames.locator(":scope > .genlab-frame:not([hidden]) img")
    assert shown.count() == 1
    before, label = shown.first.get_attribute("src"), frames.locator("output").inner_text()
    frames.screenshot(path=str(artifacts / "site-slider-before.png"))
    slider.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    after = frames.locator(":scope > .genlab-frame:not([hidden]) img")
    assert after.count() == 1 and after.first.is_visible()
    assert after.first.get_attribute("src") != before, "moving the slider did not change the figure"
    assert frames.locator("output").inner_text() != label
    frames.screenshot(path=str(artifacts / "site-slider-after.png"))

    assert not page.blocked_requests, f"the site asked the network for {sorted(set(page.blocked_requests))}"
    remote = [u for u in requests if not u.startswith(("file:", "data:", "blob:"))]
    assert not remote, f"requests that left the machine: {remote}"
    assert any("/_static/mathjax/" in u for u in requests), "MathJax came from the site's own copy"
    assert not failed, f"files the pages asked for and did not get: {failed}"
    assert not page.console_errors, page.console_errors


def test_a_text_edit_rebuilds_from_the_cache_in_seconds(site):
    first, lectures, args = site
    path = lectures / f"{CHOSEN[1]}.ipynb"
    nb = nbformat.read(path, as_version=4)
    marker = f"Edited at {time.time():.0f}: a sentence a lecturer added."
    cell = next(c for c in nb.cells if c.cell_type == "markdown")
    cell.source += f"\n\n{marker}"
    nbformat.write(nb, path)

    again = build(**args)
    assert again.executed == [], f"a text edit ran kernels again: {again.executed}\n{again.log[-2000:]}"
    page = (again.out / "lectures" / f"{CHOSEN[1]}.html").read_text(encoding="utf-8")
    assert marker in page
    print(json.dumps({"first_build_s": round(first.seconds, 1), "rebuild_s": round(again.seconds, 1)}))
    assert again.seconds < max(30.0, first.seconds / 3), (first.seconds, again.seconds)
