"""The course site's parts that need no build (issue 29): the index is generated from the
lectures and assignments, and a slider carries its frames when asked to. The build itself and
the pages in a browser: tests/browser/test_course_site.py."""
from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from genlab import viz  # noqa: E402
from genlab.course import ASSIGNMENTS, LECTURES  # noqa: E402
from genlab.site import SiteError, assignment_summary, index_markdown, lecture_summary, topic_summaries  # noqa: E402

ALL = sorted(LECTURES.glob("*.ipynb"))


def test_every_lecture_and_assignment_gives_the_index_its_entry():
    topics = topic_summaries(ALL)
    assert [t.slug for t in topics] == [p.stem for p in ALL] and len(topics) == 12
    for t in topics:
        assert t.title and not t.title.startswith("Lecture"), t
        assert len(t.goals) >= 3 and all(len(g) > 20 for g in t.goals), (t.slug, t.goals)
        assert t.tasks and any(task.title.startswith("Task 1") for task in t.tasks), (t.slug, t.tasks)
        stated = sum(int(task.points.split()[0]) for task in t.tasks)
        # the headings' points are what the nbgrader metadata grades
        assert stated == t.autograded + t.written == 100, (t.slug, stated, t.autograded, t.written)


def test_the_index_links_every_lecture_and_orders_them_in_a_toctree():
    topics = topic_summaries(ALL)
    text = index_markdown(topics, "ci")
    for t in topics:
        assert f"(lectures/{t.slug}.ipynb)" in text and f"\nlectures/{t.slug}\n" in text
        assert t.goals[0] in text and t.tasks[0].title in text
    assert "executed in the `ci` profile" in text


def test_a_lecture_without_learning_goals_is_a_clear_error(tmp_path):
    import nbformat

    path = tmp_path / "99-x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Lecture 99 — X\n\nText.")]),
                   path)
    with pytest.raises(SiteError, match="Learning goals"):
        lecture_summary(path)


def test_assignment_points_come_from_nbgrader_metadata():
    tasks, autograded, written = assignment_summary(ASSIGNMENTS / "01-autoencoders-pca" / "01-autoencoders-pca.ipynb")
    assert (autograded, written) == (90, 10)
    assert tasks[0].title == "Task 1 — PCA by SVD" and tasks[0].points == "15 points"


def test_slider_positions_cover_both_ends_and_are_thinned():
    assert viz.slider_positions(0, 1, 0.25) == [0, 0.25, 0.5, 0.75, 1]
    assert viz.slider_positions(-1, 1, 0.1)[10] == 0 and len(viz.slider_positions(-1, 1, 0.1)) == 21
    thinned = viz.slider_positions(0, 999, 1)
    assert len(thinned) == viz.MAX_FRAMES and thinned[0] == 0 and thinned[-1] == 999


def test_a_static_slider_carries_one_picture_per_position(monkeypatch):
    monkeypatch.setenv(viz.STATIC_SLIDERS, "1")
    open_before = set(plt.get_fignums())           # other tests in this process may leave figures open
    seen = []

    def render(t: float) -> None:
        seen.append(t)
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [0, t])
        print(f"t = {t}")

    widget = viz.slider_demo(render, description="t", min=0, max=1, step=0.5, value=0.5)
    bundle = widget._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle      # JupyterLab still gets the live widget
    html = bundle["text/html"]
    frames = re.findall(r'<div class="genlab-frame" data-index="(\d)"( hidden)?>(.*?)</div>', html, re.S)
    assert [f[0] for f in frames] == ["0", "1", "2"]
    assert [bool(f[1]) for f in frames] == [True, False, True]           # the starting value's frame shows
    pictures = [re.search(r'src="(data:image/png;base64,[^"]+)"', f[2]).group(1) for f in frames]
    assert len(set(pictures)) == 3, "each position draws its own figure"
    assert "t = 1.0" in frames[2][2] and 'type="range"' in html
    assert seen == [0, 0.5, 1, 0.5]        # the three frames, then the live widget's first drawing
    opened = set(plt.get_fignums()) - open_before
    assert len(opened) == 1, "each frame's figure is closed (the live drawing's stays)"
    for number in opened:
        plt.close(number)


def test_without_the_switch_a_slider_draws_only_its_value(monkeypatch):
    monkeypatch.delenv(viz.STATIC_SLIDERS, raising=False)
    seen = []
    widget = viz.slider_demo(seen.append, min=0, max=1, step=0.5, value=0.5)
    assert seen == [0.5] and "text/html" not in widget._repr_mimebundle_()


def test_a_failing_lecture_is_named_with_its_error_and_cell():
    from genlab.site import _failed_lecture

    # myst-nb's warning as it appears in the build's log (colours included)
    log = ("/x/site-src/ci/lectures/03-wgan.ipynb: WARNING: Executing notebook failed: CellExecutionError\n"
           "Traceback (most recent call last):\n  ...\nnbclient.exceptions.CellExecutionError: An error occurred"
           " while executing the following cell:\n------------------\nraise ValueError('broken')\n"
           "------------------\n\n\x1b[31mValueError\x1b[39m: broken\n\n [mystnb.exec] [mystnb.exec]\n")
    expected = "lecture 03-wgan failed: ValueError: broken\nin the cell:\nraise ValueError('broken')"
    assert _failed_lecture(log) == expected
    assert _failed_lecture("build succeeded.") is None
