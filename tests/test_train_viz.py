from itertools import islice

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

from genlab.data import closed_polygons, mixture_2d  # noqa: E402
from genlab.train import fit, minibatches  # noqa: E402
from genlab.viz import plot_curves, plot_shapes, scatter_2d, show_images, slider_demo  # noqa: E402


def test_minibatches_cover_an_epoch_and_are_seeded():
    x = torch.arange(10)
    first = torch.cat([b[0] for b in islice(minibatches(x, batch_size=2, seed=1), 5)])
    assert sorted(first.tolist()) == list(range(10))
    again = torch.cat([b[0] for b in islice(minibatches(x, batch_size=2, seed=1), 5)])
    assert torch.equal(first, again)
    with pytest.raises(ValueError, match="different lengths"):
        next(minibatches(x, torch.arange(3), batch_size=2))


def test_fit_learns_a_linear_map():
    torch.manual_seed(0)
    x = torch.randn(512, 3)
    y = x @ torch.tensor([[1.0], [-2.0], [0.5]])
    model = torch.nn.Linear(3, 1)
    losses = fit(model, lambda m, b: F.mse_loss(m(b[0]), b[1]), (x, y), steps=300, lr=0.05, batch_size=64)
    assert len(losses) == 300 and losses[-1] < 1e-3 < losses[0]
    assert not model.training


def test_fit_stops_on_a_diverging_loss():
    model = torch.nn.Linear(1, 1)
    with pytest.raises(FloatingPointError, match="lower the learning rate"):
        fit(model, lambda m, b: m(b[0]).sum() * float("inf"), torch.ones(8, 1), steps=3)


def test_plots_draw_without_error():
    ax = show_images(torch.rand(10, 1, 8, 8), nrow=5, title="t", row_labels=["a", "b"])
    assert ax.get_title() == "t"
    show_images(torch.rand(3, 3, 8, 8))
    with pytest.raises(ValueError, match="images must be"):
        show_images(torch.rand(8))
    plot_curves({"a": [3, 2, 1], "b": [1, 1, 1]}, smooth=2, logy=True)
    scatter_2d({"data": mixture_2d("8-ring", 100)})
    fig = plot_shapes(closed_polygons(5), ncol=3, overlay=closed_polygons(5, seed=1))
    assert len(fig.axes) == 6


def test_slider_demo_calls_the_renderer():
    seen = []

    def render(t):
        seen.append(t)

    widget = slider_demo(render, description="t", value=0.25)
    widget.children[0].value = 0.75
    assert seen[0] == 0.25 and seen[-1] == 0.75


def test_slider_demo_is_a_slider_whatever_the_renderer_calls_its_argument():
    """ipywidgets.interactive matches by name: render(position) with description="step" once gave
    a text box instead of a slider (lecture 04)."""
    import ipywidgets as widgets

    seen = []

    def render(position: float) -> None:
        seen.append(position)

    widget = slider_demo(render, description="step", min=0, max=40, step=8, value=40)
    slider = widget.children[0]
    assert isinstance(slider, widgets.FloatSlider) and slider.description == "step"
    assert (slider.max - slider.min) / slider.step + 1 >= 2
    slider.value = 8
    assert seen == [40, 8]


def test_slider_demo_refuses_a_slider_with_one_position():
    with pytest.raises(ValueError, match="two positions"):
        slider_demo(lambda t: None, min=0, max=0, step=1)


def test_demo_html_uses_the_local_mathjax_when_installed(tmp_path):
    import nbformat

    from genlab.demos import LOCAL_MATHJAX, export_html

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("$e^{i\\pi} + 1 = 0$")])
    html = export_html(nb, tmp_path / "page.html").read_text()
    if LOCAL_MATHJAX.is_file():
        assert LOCAL_MATHJAX.as_uri() in html and "cdnjs.cloudflare.com/ajax/libs/mathjax" not in html
    else:
        assert "mathjax" in html.lower(), "without libjs-mathjax the page falls back to the CDN"
