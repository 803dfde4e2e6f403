"""Pictures: image grids, loss curves, 2D scatters, closed shapes, and widgets."""
from __future__ import annotations

import base64
import builtins
import functools
import html as html_lib
import io
import json
import math
import os
from collections.abc import Callable, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch


def _to_numpy_images(images: torch.Tensor) -> np.ndarray:
    x = images.detach().float().cpu()
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4:
        raise ValueError(f"images must be (B, C, H, W) or (B, H, W), got shape {tuple(x.shape)}")
    return x.clamp(0, 1).permute(0, 2, 3, 1).numpy()


def show_images(images: torch.Tensor, *, nrow: int = 8, title: str | None = None,
                row_labels: Sequence[str] | None = None, scale: float = 1.0, ax=None):
    """Show a batch (B, C, H, W) with values in [0, 1] as a grid of ``nrow`` columns."""
    x = _to_numpy_images(images)
    b, h, w, c = x.shape
    ncol = min(nrow, b)
    nrows = -(-b // ncol)
    grid = np.ones((nrows * (h + 1) - 1, ncol * (w + 1) - 1, c))
    for i in range(b):
        r, q = divmod(i, ncol)
        grid[r * (h + 1): r * (h + 1) + h, q * (w + 1): q * (w + 1) + w] = x[i]
    if ax is None:
        _, ax = plt.subplots(figsize=(scale * ncol * 0.6 + 0.6, scale * nrows * 0.6 + 0.3))
    ax.imshow(grid.squeeze(-1) if c == 1 else grid, cmap="gray" if c == 1 else None,
              vmin=0, vmax=1, interpolation="nearest")
    ax.set_xticks([])
    if row_labels is not None:
        ax.set_yticks([r * (h + 1) + h / 2 for r in range(len(row_labels))], list(row_labels))
    else:
        ax.set_yticks([])
    if title:
        ax.set_title(title)
    return ax


def plot_curves(curves: Mapping[str, Sequence[float]], *, title: str | None = None,
                xlabel: str = "step", ylabel: str = "loss", logy: bool = False,
                smooth: int = 1, ax=None):
    """Plot named curves (e.g. losses) on one axis; ``smooth`` is a moving-average width."""
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 3))
    for name, values in curves.items():
        v = np.asarray(values, dtype=float)
        if smooth > 1 and len(v) >= smooth:
            v = np.convolve(v, np.ones(smooth) / smooth, mode="valid")
        ax.plot(v, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    return ax


def scatter_2d(points: Mapping[str, torch.Tensor], *, title: str | None = None, ax=None,
               s: float = 4.0):
    """Scatter several named (N, 2) point sets on one equal-aspect axis."""
    if ax is None:
        _, ax = plt.subplots(figsize=(4, 4))
    for name, p in points.items():
        p = torch.as_tensor(p).detach().cpu()
        ax.scatter(p[:, 0], p[:, 1], s=s, label=name, alpha=0.6)
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    ax.legend(markerscale=3)
    return ax


def plot_shapes(shapes: torch.Tensor, *, ncol: int = 8, titles: Sequence[str] | None = None,
                overlay: torch.Tensor | None = None, size: float = 1.4):
    """Draw closed outlines (B, 2, N) as polygons, one per panel; ``overlay`` in dashes."""
    shapes = shapes.detach().cpu()
    b = len(shapes)
    ncol = min(ncol, b)
    nrows = -(-b // ncol)
    fig, axes = plt.subplots(nrows, ncol, figsize=(size * ncol, size * nrows), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if i >= b:
            continue
        closed = torch.cat([shapes[i], shapes[i][:, :1]], dim=1)
        ax.plot(closed[0], closed[1], "-", lw=1.5)
        if overlay is not None:
            o = overlay[i].detach().cpu()
            o = torch.cat([o, o[:, :1]], dim=1)
            ax.plot(o[0], o[1], "--", lw=1)
        ax.set_aspect("equal")
        if titles is not None:
            ax.set_title(titles[i], fontsize=8)
    fig.tight_layout()
    return fig


STATIC_SLIDERS = "GENLAB_STATIC_SLIDERS"   # set to 1 (make site and demos do): sliders carry their frames
MAX_FRAMES = 41                            # a static slider keeps at most this many positions


def slider_demo(render: Callable[[float], None], *, description: str = "t",
                min: float = 0.0, max: float = 1.0, step: float = 0.05, value: float = 0.0):
    """A float slider labelled ``description`` that calls ``render(value)`` (which draws a figure)
    on every move, whatever ``render``'s parameter is called.

    ``ipywidgets.interactive`` matches widgets to parameters by name: given ``step=slider`` for
    ``render(position: float)`` it ignores the slider and builds a text box from the annotation.
    Here ``render`` is wrapped so that the slider always drives its first argument.

    With ``GENLAB_STATIC_SLIDERS=1`` (``genlab.site`` and ``genlab.demos`` set it) the slider also
    draws every position once (at most ``MAX_FRAMES``, evenly spread) and carries the pictures
    as an HTML fallback: a range input and the precomputed frames, with no kernel and no network
    needed. JupyterLab and its RISE slideshow (`make slides`, without it) still show the live
    widget; a page without a kernel shows the frames."""
    import ipywidgets as widgets

    if not max > min or not step > 0:
        raise ValueError(f"a slider needs at least two positions: got min={min}, max={max}, step={step}")

    def draw(value: float) -> None:
        render(value)

    slider = widgets.FloatSlider(value=value, min=min, max=max, step=step, description=description,
                                 continuous_update=False)
    if os.environ.get(STATIC_SLIDERS, "") not in ("1", "true", "yes"):
        return widgets.interactive(draw, value=slider)
    positions = slider_positions(min, max, step)
    html = frames_html([frame_html(render, v) for v in positions], positions, description,
                       start=positions.index(_nearest(positions, value)))
    return _framed_interactive()(draw, html, value=slider)


def slider_positions(low: float, high: float, step: float, limit: int = MAX_FRAMES) -> list[float]:
    """The values a slider from ``low`` to ``high`` by ``step`` can take (both ends included), thinned
    evenly to at most ``limit`` when there are more."""
    count = int(math.floor((high - low) / step + 1e-9)) + 1
    values = [round(low + i * step, 10) for i in range(count)]
    if values[-1] < high - 1e-9 * (1 + abs(high)):
        values.append(round(high, 10))            # ipywidgets lets the slider reach max
    if len(values) > limit:
        values = [values[round(i * (len(values) - 1) / (limit - 1))] for i in range(limit)]
    return values


def _nearest(values: Sequence[float], value: float) -> float:
    return builtins.min(values, key=lambda v: abs(v - value))


def frame_html(render: Callable[[float], None], value: float) -> str:
    """What ``render(value)`` shows, as HTML: its figures as embedded PNG images (those it displayed
    and those it left open) and its printed text."""
    from IPython.utils.capture import capture_output

    before = set(plt.get_fignums())
    with capture_output(stdout=True, stderr=False, display=True) as captured:
        render(value)
    parts: list[str] = []
    for output in captured.outputs:
        png = output.data.get("image/png")
        if png is not None:
            parts.append(_img(png))
        elif "text/html" in output.data:
            parts.append(output.data["text/html"])
        elif "text/plain" in output.data:
            parts.append(f"<pre>{html_lib.escape(output.data['text/plain'])}</pre>")
    for number in sorted(set(plt.get_fignums()) - before):      # drawn but never shown
        figure = plt.figure(number)
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png", bbox_inches="tight")
        plt.close(figure)
        parts.append(_img(buffer.getvalue()))
    if captured.stdout:
        parts.insert(0, f"<pre>{html_lib.escape(captured.stdout)}</pre>")
    return "".join(parts)


def _img(png: bytes | str) -> str:
    data = png if isinstance(png, str) else base64.b64encode(png).decode("ascii")
    return f'<img alt="frame" src="data:image/png;base64,{data.strip()}">'


def frames_html(frames: Sequence[str], values: Sequence[float], description: str, start: int = 0) -> str:
    """A slider over precomputed frames: an ``<input type=range>`` whose moves show the frame of
    that position, and the position's value beside it. Plain HTML and one inline handler: it
    works in any page, offline, without a kernel."""
    if len(frames) != len(values) or len(frames) < 2:
        raise ValueError(f"a slider needs two or more frames, one per value: {len(frames)} frames, "
                         f"{len(values)} values")
    labels = html_lib.escape(json.dumps([f"{v:g}" for v in values]))
    handler = ("const box = this.closest('.genlab-frames'); const i = Number(this.value);"
               " box.querySelectorAll(':scope > .genlab-frame').forEach((f, k) => { f.hidden = k !== i; });"
               " box.querySelector('output').value = JSON.parse(this.dataset.labels)[i];")
    rows = "".join(f'<div class="genlab-frame" data-index="{i}"{"" if i == start else " hidden"}>{f}</div>'
                   for i, f in enumerate(frames))
    return (f'<div class="genlab-frames"><label>{html_lib.escape(description)} '
            f'<input type="range" min="0" max="{len(frames) - 1}" step="1" value="{start}" '
            f'data-labels="{labels}" oninput="{html_lib.escape(handler)}" '
            f'aria-label="{html_lib.escape(description)}"> '
            f'<output>{values[start]:g}</output></label>{rows}</div>')


@functools.cache
def _framed_interactive():
    """``ipywidgets.interactive`` whose display also carries an HTML fallback (the frames): the
    live widget where a kernel runs, the frames where none does."""
    import ipywidgets as widgets

    class FramedInteractive(widgets.interactive):
        def __init__(self, f, frames: str, **kwargs):
            self.frames = frames
            super().__init__(f, **kwargs)

        def _repr_mimebundle_(self, **kwargs):
            bundle = super()._repr_mimebundle_(**kwargs)
            if bundle is not None:
                bundle["text/html"] = self.frames
            return bundle

    return FramedInteractive
