"""Fashion-MNIST (Xiao et al., 2017): 70k grey 28×28 garments in 10 classes, loaded offline.

Sources are tried in the order of DESIGN §4 and the one used is reported:

1. an explicit directory (``root=`` or ``$GENLAB_DATA``) holding the four idx files,
2. the torchvision cache layout under ``data/cache/FashionMNIST/raw``,
3. Debian's ``dataset-fashion-mnist`` package in ``/usr/share/datasets/fashion-mnist``,
4. a torchvision download into the cache, only with ``download=True``,
5. otherwise a clear error that names the ways to get the data.
"""
from __future__ import annotations

import gzip
import os
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
SPLITS = {"train": "train", "test": "t10k"}
REPO_ROOT = Path(__file__).resolve().parents[2]
CACHE_DIR = REPO_ROOT / "data" / "cache"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


class DataNotFoundError(FileNotFoundError):
    """Raised when no offline source of a dataset exists and download is not allowed."""


def _idx_path(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _candidates(root: str | os.PathLike | None) -> list[tuple[str, Path]]:
    found = []
    explicit = root or os.environ.get("GENLAB_DATA")
    if explicit:
        base = Path(explicit)
        found += [(f"directory {base}", base), (f"directory {base}", base / "fashion-mnist"),
                  (f"directory {base}", base / "FashionMNIST" / "raw")]
    found.append((f"torchvision cache {CACHE_DIR}", CACHE_DIR / "FashionMNIST" / "raw"))
    found.append(("Debian package dataset-fashion-mnist", DEBIAN_DIR))
    return found


def _read_idx(path: Path, limit: int | None = None) -> np.ndarray:
    """Read an idx file (gzipped or not); with ``limit`` read only the first items."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        magic = f.read(4)
        ndim = magic[3]
        shape = [int.from_bytes(f.read(4), "big") for _ in range(ndim)]
        if limit is not None:
            shape[0] = min(shape[0], limit)
        data = f.read(int(np.prod(shape)))
    return np.frombuffer(data, dtype=np.uint8).reshape(shape)


def locate(root: str | os.PathLike | None = None, download: bool = False) -> tuple[str, Path]:
    """Find a folder holding the Fashion-MNIST idx files; return (description, folder)."""
    for label, folder in _candidates(root):
        if all(_idx_path(folder, f"{s}-{kind}-idx{n}-ubyte")
               for s in SPLITS.values() for kind, n in (("images", 3), ("labels", 1))):
            return label, folder
    if download:
        from torchvision.datasets import FashionMNIST

        for train in (True, False):
            FashionMNIST(str(CACHE_DIR), train=train, download=True)
        return f"download into {CACHE_DIR}", CACHE_DIR / "FashionMNIST" / "raw"
    raise DataNotFoundError(
        "Fashion-MNIST was not found offline. Get it one of three ways:\n"
        "  1. Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist\n"
        "  2. put the four idx files (train-images-idx3-ubyte.gz, …) in a folder and set "
        "GENLAB_DATA=/that/folder (or pass root=)\n"
        f"  3. when online: genlab data fashion-mnist --download (saves to {CACHE_DIR})"
    )


@lru_cache(maxsize=4)
def _load_arrays(split: str, folder: Path, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    prefix = SPLITS[split]
    images = _read_idx(_idx_path(folder, f"{prefix}-images-idx3-ubyte"), limit)
    labels = _read_idx(_idx_path(folder, f"{prefix}-labels-idx1-ubyte"), limit)
    return images, labels


def fashion_mnist(split: str = "train", *, limit: int | None = None, pad32: bool = False,
                  root: str | os.PathLike | None = None, download: bool = False,
                  verbose: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Load Fashion-MNIST.

    Returns ``(images, labels)``: images float32 in [0, 1] of shape (N, 1, 28, 28)
    (or (N, 1, 32, 32) with ``pad32``, zero-padded by 2 pixels), labels int64 (N,) in
    [0, 10). ``limit`` keeps the first ``limit`` examples of the split (fixed order).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, not {split!r}")
    if limit is not None and limit <= 0:
        raise ValueError(f"limit must be positive, not {limit}")
    label, folder = locate(root, download)
    images, labels = _load_arrays(split, folder, limit)
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    if pad32:
        x = torch.nn.functional.pad(x, (2, 2, 2, 2))
    y = torch.from_numpy(labels.astype(np.int64))
    if verbose:
        print(f"Fashion-MNIST {split}: {len(x)} images {tuple(x.shape[1:])} from {label}")
    return x, y
