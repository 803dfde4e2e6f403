"""Pictures of every dataset for data/README.md: ``python -m genlab.data.figures``.

Each figure is a PNG in data/figures/ with its MANIFEST row. Matplotlib writes no date
into the files, so the same code and data give the same bytes on the same versions.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

from genlab.course import REPO_ROOT  # noqa: E402
from genlab.data import EMOJI_GROUPS, FASHION_CLASSES, emoji, fashion_mnist  # noqa: E402
from genlab.data.procedural import closed_polygons, mixture_2d, shapes, unpaired_shapes  # noqa: E402
from genlab.viz import scatter_2d, show_images  # noqa: E402
from genlab.zoo import ManifestRow, sha256_of, write_manifest_row  # noqa: E402

FIGURES = REPO_ROOT / "data" / "figures"


def _save(fig, path: Path) -> Path:
    fig.savefig(path, dpi=100, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)
    return path


def fashion(out: Path) -> Path:
    x, y = fashion_mnist("test", verbose=False)
    picks = torch.cat([torch.nonzero(y == c).flatten()[:10] for c in range(10)])
    fig, ax = plt.subplots(figsize=(6.5, 7))
    show_images(x[picks], nrow=10, row_labels=FASHION_CLASSES, ax=ax,
                title="Fashion-MNIST (test split): 10 classes, 28×28 grey")
    return _save(fig, out / "fashion-mnist.png")


def openmoji(out: Path) -> Path:
    e = emoji("all", verbose=False)
    picks = torch.cat([torch.nonzero(e.labels == g).flatten()[:: max(1, (e.labels == g).sum() // 4)][:4]
                       for g in range(len(EMOJI_GROUPS))])
    fig, axes = plt.subplots(len(EMOJI_GROUPS), 8, figsize=(11, 16))
    for row, group in enumerate(EMOJI_GROUPS):
        for j in range(4):
            i = picks[row * 4 + j].item()
            for k, image in enumerate((e.images[i], e.line_art[i].expand(3, -1, -1))):
                ax = axes[row, 2 * j + k]
                ax.imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
                ax.set_xticks([])
                ax.set_yticks([])
                if k == 0:
                    ax.set_title(e.captions[i][:22], fontsize=7, loc="left")
        axes[row, 0].set_ylabel(group, fontsize=8)
    fig.suptitle("OpenMoji 32×32: colour + line art + caption, by group (CC BY-SA 4.0)", y=0.91)
    return _save(fig, out / "openmoji.png")


def coloured_shapes(out: Path) -> Path:
    s = shapes(8, seed=0)
    fig, axes = plt.subplots(3, 8, figsize=(13, 5.4))
    for i in range(8):
        for row, image in enumerate((s.images[i], s.masks[i].expand(3, -1, -1),
                                     s.edges[i].expand(3, -1, -1))):
            axes[row, i].imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
            axes[row, i].set_xticks([])
            axes[row, i].set_yticks([])
        head, rest = s.captions[i].split(" in the ")
        place, background = rest.split(" on a ")
        axes[0, i].set_title(f"{head}\nin the {place}\non a {background}", fontsize=7)
    for row, name in enumerate(("image", "mask", "edges")):
        axes[row, 0].set_ylabel(name)
    fig.suptitle("Procedural shapes: caption, image, mask and edge map (exact ground truth)")
    return _save(fig, out / "shapes.png")


def unpaired(out: Path) -> Path:
    d = unpaired_shapes(10, seed=0)
    fig, ax = plt.subplots(figsize=(8, 4))
    show_images(torch.cat([d.a, d.a_to_b, d.b, d.b_to_a]), nrow=10, ax=ax,
                row_labels=("A: plain", "truth A→B", "B: striped", "truth B→A"),
                title="Unpaired domains with a known correspondence")
    return _save(fig, out / "unpaired-shapes.png")


def toy_2d(out: Path) -> Path:
    fig, axes = plt.subplots(1, 4, figsize=(14, 3.6))
    for ax, name in zip(axes, ("8-ring", "25-grid", "swiss-roll"), strict=True):
        scatter_2d({name: mixture_2d(name, 2000, seed=0)}, ax=ax, title=name)
        ax.get_legend().remove()
    poly = closed_polygons(6, seed=0)
    for p in poly:
        axes[3].plot(*torch.cat([p, p[:, :1]], dim=1).numpy(), lw=1.2)
    axes[3].set_aspect("equal")
    axes[3].set_title("closed polygons (96 vertices)")
    return _save(fig, out / "toy-2d.png")


MAKERS = {"fashion-mnist.png": fashion, "openmoji.png": openmoji, "shapes.png": coloured_shapes,
          "unpaired-shapes.png": unpaired, "toy-2d.png": toy_2d}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m genlab.data.figures", description=__doc__)
    parser.add_argument("--out", default=str(FIGURES))
    parser.add_argument("--write-manifest", action="store_true",
                        help="record each figure in data/MANIFEST")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    command = "python -m genlab.data.figures " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    for name, make in MAKERS.items():
        path = make(out)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB)")
        if args.write_manifest:
            write_manifest_row(ManifestRow(f"figures/{name}", sha256_of(path), path.stat().st_size,
                                           command, "picture for data/README.md"))


if __name__ == "__main__":
    main()
