"""Benchmarks of the datasets, the metrics and the zoo, printed as tables (`make bench`).

- loader times (first call, from a cold process for the files);
- every metric on 10,000 samples (the issue's target: classifier FD ≤ 5 s on 2 cores);
- the shipped classifiers' accuracies, measured again here;
- the size of data/.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402

from genlab.tables import format_table  # noqa: E402


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start


def loaders() -> list[tuple]:
    from genlab.data import closed_polygons, emoji, fashion_mnist, mixture_2d
    from genlab.data.procedural import shapes, unpaired_shapes

    rows = []
    for label, fn in [
        ("fashion_mnist('train')  60,000", lambda: fashion_mnist("train", verbose=False)),
        ("fashion_mnist('test')  10,000", lambda: fashion_mnist("test", verbose=False)),
        ("emoji('all', skintones=True)", lambda: emoji("all", skintones=True, verbose=False)),
        ("shapes(10_000)", lambda: shapes(10_000, seed=1)),
        ("unpaired_shapes(10_000)", lambda: unpaired_shapes(10_000, seed=1)),
        ("mixture_2d('25-grid', 10_000)", lambda: mixture_2d("25-grid", 10_000)),
        ("closed_polygons(10_000)", lambda: closed_polygons(10_000)),
    ]:
        _, seconds = timed(fn)
        rows.append((label, f"{seconds:.2f}"))
    return rows


def metric_times() -> list[tuple]:
    from genlab import metrics
    from genlab.data import fashion_mnist, mixture_2d, mixture_centres
    from genlab.data.procedural import shapes

    x, y = fashion_mnist("test", verbose=False)                     # 10,000 real images
    fake = (x.roll(1, 0) + 0.1 * torch.randn(x.shape)).clamp(0, 1)          # other images, noisier
    metrics.classifier("fashion-mnist")                              # load once, outside timing
    rows = []
    feats_real, s = timed(metrics.features, x)
    rows.append(("features (10k images → 128-d)", f"{s:.2f}", ""))
    value, s = timed(metrics.classifier_fd, fake)
    rows.append(("classifier_fd (10k vs stored reference)", f"{s:.2f}", f"{value:.2f}"))
    feats_fake = metrics.features(fake)
    value, s = timed(metrics.frechet_distance, feats_real, feats_fake)
    rows.append(("frechet_distance (features given)", f"{s:.2f}", f"{value:.2f}"))
    (value, _), s = timed(metrics.kid, feats_real, feats_fake)
    rows.append(("kid (50 subsets of 1,000)", f"{s:.2f}", f"{value:.4f}"))
    (p, r), s = timed(metrics.precision_recall, feats_real, feats_fake)
    rows.append(("precision_recall k=3 (10k vs 10k)", f"{s:.2f}", f"{p:.3f} / {r:.3f}"))
    value, s = timed(metrics.conditional_accuracy, fake, y.roll(1, 0))
    rows.append(("conditional_accuracy", f"{s:.2f}", f"{value:.3f}"))
    pts = mixture_2d("25-grid", 10_000)
    value, s = timed(metrics.mode_coverage, pts, mixture_centres("25-grid"), 0.05)
    rows.append(("mode_coverage (25-grid)", f"{s:.3f}", f"{value.modes} modes, {value.high_quality:.3f}"))
    sh = shapes(10_000)
    value, s = timed(metrics.iou, sh.masks, sh.masks.roll(1, -1))
    rows.append(("iou (masks shifted by 1 px)", f"{s:.3f}", f"{value:.3f}"))
    value, s = timed(metrics.translation_error, sh.images, sh.images.roll(1, 0))
    rows.append(("translation_error", f"{s:.3f}", f"{value:.3f}"))
    return rows


def classifiers() -> list[tuple]:
    from genlab import zoo

    rows = []
    for row in zoo.list_models():
        name = row.path.removeprefix("checkpoints/").removesuffix(".pt")
        _, meta = zoo.load(name, "cpu", with_meta=True)
        rows.append((name, f"{row.size / 1024:.0f} KB", f"{meta.get('seconds', '?')} s "
                     f"({meta.get('profile')})", meta["figure"]))
    return rows


def main() -> None:
    print(f"genlab bench: data, metrics, zoo — {os.cpu_count()} CPU cores, "
          f"{torch.get_num_threads()} torch threads\n")
    print(format_table(loaders(), ("loader", "seconds")))
    print()
    print(format_table(metric_times(), ("metric on 10,000 samples", "seconds", "value")))
    print()
    print(format_table(classifiers(), ("checkpoint", "size", "trained in", "figure reached")))
    data = Path(__file__).resolve().parents[1] / "data"
    shipped = [p for p in data.rglob("*") if p.is_file() and "cache" not in p.relative_to(data).parts]
    print(f"\ndata/: {len(shipped)} files, {sum(p.stat().st_size for p in shipped) / 2**20:.1f} MB")


if __name__ == "__main__":
    main()
