"""`make demos` output in a browser, offline: a lecture's standalone HTML opens with every
figure, its in-page links resolve (issue 9), a slider moves its figure with no kernel and no
network (the precomputed frames of genlab.viz.slider_demo), and no request leaves the machine:
no widget manager or require.js from a CDN, MathJax from Debian's libjs-mathjax (issue 29).
A full-page screenshot is kept."""
from __future__ import annotations

import subprocess
import sys

import pytest

from genlab.course import LECTURES
from genlab.demos import LOCAL_MATHJAX

from labdriver import leaving_the_machine, private_env, record_requests

pytestmark = [pytest.mark.browser, pytest.mark.slow]

LECTURE = LECTURES / "01-autoencoders-pca.ipynb"      # two sliders (slider_demo)
SHOWN = "b => b.querySelector(':scope > .genlab-frame:not([hidden]) img').src"


def test_lecture_html_opens_offline_with_its_figures_and_moving_sliders(page, tmp_path, artifacts):
    # `make demos` runs `genlab demos --out build/lectures` in the machine's profile; here the
    # same command in the `ci` profile, writing to a temporary folder.
    out = tmp_path / "lectures"
    env = private_env(tmp_path / "env")  # without the suite's MPLBACKEND=Agg: figures reach the HTML
    run = subprocess.run([sys.executable, "-m", "genlab.cli", "demos", LECTURE.stem, "--profile", "ci",
                          "--out", str(out)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert LECTURE.stem in run.stdout and " ok" in run.stdout, run.stdout     # the closing table
    html = out / f"{LECTURE.stem}.html"
    assert html.is_file(), run.stdout

    requests = record_requests(page)
    page.goto(html.as_uri(), wait_until="load")
    images = page.locator("img").evaluate_all(
        "els => els.map(e => ({src: e.src.slice(0, 40), ok: e.complete && e.naturalWidth > 0}))")
    assert len(images) == html.read_text().count("<img") and len(images) >= 5, images
    assert all(i["ok"] for i in images), [i for i in images if not i["ok"]]

    links = page.locator("a[href]").evaluate_all("els => els.map(e => e.getAttribute('href'))")
    anchors = [h for h in links if h.startswith("#")]
    # Follow each in-page link as a click would (a fragment navigation) and see where it lands.
    dangling = page.evaluate("hrefs => hrefs.filter(h => { location.hash = h;"
                             " return !document.querySelector(':target'); })", anchors)
    assert anchors and not dangling, f"links to no heading: {dangling}"
    local = [h for h in links if not h.startswith(("#", "http://", "https://", "mailto:"))]
    missing = [h for h in local if not (html.parent / h.split("#")[0]).exists()]
    assert not missing, f"links to missing files: {missing}"

    # a slider moves its figure: a click on its track, as a reader would
    sliders = page.locator(".genlab-frames")
    assert sliders.count() >= 2, "the lecture's sliders carry no frames (GENLAB_STATIC_SLIDERS)"
    box = sliders.first
    slider = box.locator("input[type=range]")
    slider.scroll_into_view_if_needed()
    before, label = box.evaluate(SHOWN), box.locator("output").inner_text()
    at_end = slider.input_value() == slider.get_attribute("max")
    slider.click(position={"x": slider.bounding_box()["width"] * (0.2 if at_end else 0.8), "y": 5})
    assert box.evaluate("b => b.querySelectorAll(':scope > .genlab-frame:not([hidden])').length") == 1
    assert box.evaluate(SHOWN) != before, "moving the slider did not change the figure"
    assert box.locator("output").inner_text() != label

    page.screenshot(path=str(artifacts / f"demos-{LECTURE.stem}.png"), full_page=True)
    outside = leaving_the_machine(requests + page.blocked_requests)
    hint = "" if LOCAL_MATHJAX.is_file() else " (MathJax: apt-get install libjs-mathjax)"
    assert not outside, f"{html.name} asks the network for {outside}{hint}; offline these fail"
    assert any(u.startswith("file:") and "MathJax" in u for u in requests), "the requests were not recorded"
