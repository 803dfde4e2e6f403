"""Pictures: image grids, loss curves, 2D scatters, closed shapes, and widgets."""
from __future__ import annotations

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


def slider_demo(render: Callable[[float], None], *, description: str = "t",
                min: float = 0.0, max: float = 1.0, step: float = 0.05, value: float = 0.0):
    """A float slider labelled ``description`` that calls ``render(value)`` (which draws a figure)
    on every move, whatever ``render``'s parameter is called.

    ``ipywidgets.interactive`` matches widgets to parameters by name: given ``step=slider`` for
    ``render(position: float)`` it ignores the slider and builds a text box from the annotation.
    Here ``render`` is wrapped so that the slider always drives its first argument."""
    import ipywidgets as widgets

    if not max > min or not step > 0:
        raise ValueError(f"a slider needs at least two positions: got min={min}, max={max}, step={step}")

    def draw(value: float) -> None:
        render(value)

    slider = widgets.FloatSlider(value=value, min=min, max=max, step=step, description=description,
                                 continuous_update=False)
    return widgets.interactive(draw, value=slider)
