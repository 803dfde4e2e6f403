"""Fashion-MNIST and MNIST: 70k grey 28×28 images in 10 classes each, loaded offline.

Sources are tried in this order (README, "Data, offline first") and the one used is reported:

1. an explicit directory (``root=`` or ``$GENLAB_DATA``) holding the four idx files,
2. the torchvision cache layout under ``data/cache/<FashionMNIST|MNIST>/raw``,
3. a Debian package (``dataset-fashion-mnist`` in ``/usr/share/datasets/fashion-mnist``;
   Debian has no MNIST package),
4. a torchvision download into the cache, only with ``download=True``,
5. otherwise a clear error that names the ways to get the data.

Fashion-MNIST (Xiao et al., 2017) is the course's real dataset and CI installs it. MNIST is
optional: loaders and lectures use it when it is there, no test requires it.
"""
from __future__ import annotations

import gzip
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from genlab.course import REPO_ROOT

FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
MNIST_CLASSES = tuple(str(d) for d in range(10))
SPLITS = {"train": "train", "test": "t10k"}
CACHE_DIR = REPO_ROOT / "data" / "cache"
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


class DataNotFoundError(FileNotFoundError):
    """Raised when no offline source of a dataset exists and download is not allowed."""


@dataclass(frozen=True)
class IdxDataset:
    name: str              # as the CLI spells it
    title: str             # as messages spell it
    torchvision: str       # torchvision class, also the cache folder name
    debian: str | None     # Debian package, if any
    classes: tuple[str, ...]


DATASETS = {
    "fashion-mnist": IdxDataset("fashion-mnist", "Fashion-MNIST", "FashionMNIST",
                                "dataset-fashion-mnist", FASHION_CLASSES),
    "mnist": IdxDataset("mnist", "MNIST", "MNIST", None, MNIST_CLASSES),
}


def _spec(dataset: str) -> IdxDataset:
    if dataset not in DATASETS:
        raise ValueError(f"unknown idx dataset {dataset!r}; known: {', '.join(DATASETS)}")
    return DATASETS[dataset]


def _idx_path(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz"):
        if (folder / name).is_file():
            return folder / name
    return None


def _candidates(spec: IdxDataset, root: str | os.PathLike | None) -> list[tuple[str, Path]]:
    found = []
    explicit = root or os.environ.get("GENLAB_DATA")
    if explicit:
        base = Path(explicit)
        found += [(f"directory {base}", base), (f"directory {base}", base / spec.name),
                  (f"directory {base}", base / spec.torchvision / "raw")]
    found.append((f"torchvision cache {CACHE_DIR}", CACHE_DIR / spec.torchvision / "raw"))
    if spec.debian:
        found.append((f"Debian package {spec.debian}", DEBIAN_DIR))
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


def locate(root: str | os.PathLike | None = None, download: bool = False,
           dataset: str = "fashion-mnist") -> tuple[str, Path]:
    """Find a folder holding the dataset's four idx files; return (description, folder)."""
    spec = _spec(dataset)
    for label, folder in _candidates(spec, root):
        if all(_idx_path(folder, f"{s}-{kind}-idx{n}-ubyte")
               for s in SPLITS.values() for kind, n in (("images", 3), ("labels", 1))):
            return label, folder
    if download:
        import torchvision.datasets

        cls = getattr(torchvision.datasets, spec.torchvision)
        try:
            for train in (True, False):
                cls(str(CACHE_DIR), train=train, download=True)
        except Exception as error:  # noqa: BLE001 - offline machines fail in many ways
            raise DataNotFoundError(f"{spec.title} could not be downloaded ({error}). "
                                    + _ways(spec)) from error
        return f"download into {CACHE_DIR}", CACHE_DIR / spec.torchvision / "raw"
    raise DataNotFoundError(f"{spec.title} was not found offline. " + _ways(spec))


def _ways(spec: IdxDataset) -> str:
    first = (f"Debian/Ubuntu: sudo apt-get install {spec.debian}" if spec.debian else
             f"copy torchvision's {spec.torchvision}/raw folder from a machine that has it "
             f"into {CACHE_DIR}")
    return ("Get it one of three ways:\n"
            f"  1. {first}\n"
            "  2. put the four idx files (train-images-idx3-ubyte.gz, …) in a folder and set "
            "GENLAB_DATA=/that/folder (or pass root=)\n"
            f"  3. when online: genlab data {spec.name} --download (saves to {CACHE_DIR})")


@lru_cache(maxsize=8)
def _load_arrays(split: str, folder: Path, limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    prefix = SPLITS[split]
    images = _read_idx(_idx_path(folder, f"{prefix}-images-idx3-ubyte"), limit)
    labels = _read_idx(_idx_path(folder, f"{prefix}-labels-idx1-ubyte"), limit)
    return images, labels


def load_idx(dataset: str, split: str = "train", *, limit: int | None = None,
             pad32: bool = False, root: str | os.PathLike | None = None,
             download: bool = False, verbose: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Load ``"fashion-mnist"`` or ``"mnist"``; see :func:`fashion_mnist` for the contract."""
    spec = _spec(dataset)
    if split not in SPLITS:
        raise ValueError(f"split must be one of {sorted(SPLITS)}, not {split!r}")
    if limit is not None and limit <= 0:
        raise ValueError(f"limit must be positive, not {limit}")
    label, folder = locate(root, download, dataset)
    images, labels = _load_arrays(split, folder, limit)
    x = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    if pad32:
        x = torch.nn.functional.pad(x, (2, 2, 2, 2))
    y = torch.from_numpy(labels.astype(np.int64))
    if verbose:
        print(f"{spec.title} {split}: {len(x)} images {tuple(x.shape[1:])} from {label}")
    return x, y


def fashion_mnist(split: str = "train", *, limit: int | None = None, pad32: bool = False,
                  root: str | os.PathLike | None = None, download: bool = False,
                  verbose: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Load Fashion-MNIST.

    Returns ``(images, labels)``: images float32 in [0, 1] of shape (N, 1, 28, 28)
    (or (N, 1, 32, 32) with ``pad32``, zero-padded by 2 pixels), labels int64 (N,) in
    [0, 10), named by ``FASHION_CLASSES``. ``limit`` keeps the first ``limit`` examples of
    the split (fixed order). Train has 60,000 images, test 10,000.
    """
    return load_idx("fashion-mnist", split, limit=limit, pad32=pad32, root=root,
                    download=download, verbose=verbose)


def mnist(split: str = "train", *, limit: int | None = None, pad32: bool = False,
          root: str | os.PathLike | None = None, download: bool = False,
          verbose: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Load MNIST digits when this machine has them (never required by the course).

    Same contract as :func:`fashion_mnist`. Offline it is found in ``$GENLAB_DATA`` or in
    torchvision's cache layout under ``data/cache/MNIST/raw``; ``download=True`` fetches it
    when online. :func:`available` says whether it can be loaded without a download.
    """
    return load_idx("mnist", split, limit=limit, pad32=pad32, root=root,
                    download=download, verbose=verbose)


def available(dataset: str, root: str | os.PathLike | None = None) -> bool:
    """True when ``dataset`` can be loaded from an offline source."""
    try:
        locate(root, download=False, dataset=dataset)
    except DataNotFoundError:
        return False
    return True
