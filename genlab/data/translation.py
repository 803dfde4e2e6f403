"""Real image-to-image translation sets: CMP Facades (pix2pix) and horse2zebra (CycleGAN).

Neither set ships with the course or has a system package, so unlike Fashion-MNIST they
cannot be had offline. Only the ``gpu`` profile of lectures 04 and 05 uses them, and only
when it can download them; every profile also runs on the offline stand-ins (procedural
shapes and edge maps, unpaired procedural shapes, OpenMoji line art and colour).

Sources are tried in this order (README, "Data, offline first") and the one used is reported:

1. an explicit directory (``root=`` or ``$GENLAB_DATA``) holding the extracted folder
   (``facades/`` or ``horse2zebra/``), or being that folder,
2. the cache ``data/cache/<name>/`` (the cache of :mod:`genlab.data.idx`),
3. a download of the published archive into the cache, only with ``download=True``
   (``$GENLAB_TRANSLATION_URL`` replaces the server, e.g. a local mirror),
4. otherwise a clear error that names the ways to get the data and the offline stand-ins.

Layouts as published by the pix2pix and CycleGAN projects:

- ``facades.tar.gz`` → ``facades/{train,val,test}/*.jpg`` (400 / 100 / 106 images), each
  512×256 with the photo on the left half and its label map on the right half;
- ``horse2zebra.zip`` → ``horse2zebra/{trainA,trainB,testA,testB}/*.jpg``, 256×256,
  A = horses (1,067 train, 120 test), B = zebras (1,334 train, 140 test).
"""
from __future__ import annotations

import http.client
import os
import re
import shutil
import tarfile
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genlab.data import idx
from genlab.data.idx import DataNotFoundError

BASE_URL = "http://efrosgans.eecs.berkeley.edu"
URL_VARIABLE = "GENLAB_TRANSLATION_URL"
STAND_INS = ("Every profile also works offline on the stand-ins: procedural shapes and their "
             "edge maps for pix2pix, procedural unpaired shapes for CycleGAN, and OpenMoji line "
             "art and colour (genlab.data.shapes, unpaired_shapes, emoji).")


@dataclass(frozen=True)
class TranslationSet:
    name: str                              # as the CLI and the extracted folder spell it
    title: str                             # as messages spell it
    url_path: str                          # the archive below the server's address
    splits: dict[str, tuple[str, ...]]     # split -> its folders inside the extracted folder
    contents: str                          # one line for `genlab data`

    @property
    def archive(self) -> str:
        return self.url_path.rsplit("/", 1)[-1]

    @property
    def folders(self) -> tuple[str, ...]:
        return tuple(f for folders in self.splits.values() for f in folders)

    def url(self) -> str:
        return os.environ.get(URL_VARIABLE, BASE_URL).rstrip("/") + "/" + self.url_path


DATASETS = {
    "facades": TranslationSet(
        "facades", "CMP Facades", "pix2pix/datasets/facades.tar.gz",
        {"train": ("train",), "val": ("val",), "test": ("test",)},
        "label map → photo pairs (3, size, size): train 400, val 100, test 106"),
    "horse2zebra": TranslationSet(
        "horse2zebra", "horse2zebra", "cyclegan/datasets/horse2zebra.zip",
        {"train": ("trainA", "trainB"), "test": ("testA", "testB")},
        "unpaired horses ↔ zebras (3, size, size): train 1067/1334, test 120/140"),
}


def _spec(dataset: str, split: str | None = None) -> TranslationSet:
    if dataset not in DATASETS:
        raise ValueError(f"unknown translation dataset {dataset!r}; known: {', '.join(DATASETS)}")
    spec = DATASETS[dataset]
    if split is not None and split not in spec.splits:
        raise ValueError(f"{spec.title} split must be one of {list(spec.splits)}, not {split!r}")
    return spec


def _natural_key(path: Path) -> tuple:
    """Sort 2.jpg before 10.jpg: digit runs compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name))


def _jpegs(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.jpg"), key=_natural_key)


def _missing(spec: TranslationSet, folder: Path) -> list[str]:
    """The split folders of the published layout that ``folder`` lacks (or holds no JPEG in)."""
    return [f"{f}/" for f in spec.folders if next((folder / f).glob("*.jpg"), None) is None]


def _candidates(spec: TranslationSet, root: str | os.PathLike | None) -> list[tuple[str, Path]]:
    found = []
    explicit = root or os.environ.get("GENLAB_DATA")
    if explicit:
        base = Path(explicit)
        found += [(f"directory {base}", base / spec.name), (f"directory {base}", base)]
    found.append((f"cache {idx.CACHE_DIR}", idx.CACHE_DIR / spec.name))
    return found


def _ways(spec: TranslationSet) -> str:
    layout = f"{spec.name}/{{{','.join(spec.folders)}}}/*.jpg"
    return ("Get it one of three ways:\n"
            f"  1. put the extracted folder ({layout}) in {idx.CACHE_DIR}\n"
            "  2. put it in a folder of your choice and set GENLAB_DATA=/that/folder (or pass root=)\n"
            f"  3. when online: genlab data {spec.name} --download (or download=True), which fetches "
            f"{spec.url()} into {idx.CACHE_DIR}\n" + STAND_INS)


def _download(url: str, target: Path) -> None:
    """Fetch ``url`` to ``target`` with a progress bar over bytes. The bytes go to a
    ``.part`` file that is renamed only once complete, so no partial file looks finished."""
    from tqdm.auto import tqdm

    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=target.parent, prefix=target.name + ".",
                                     suffix=".part", delete=False) as part:
        part_path = Path(part.name)
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                size = int(response.headers.get("Content-Length") or 0)
                with tqdm(total=size or None, unit="B", unit_scale=True, unit_divisor=1024,
                          desc=target.name) as bar:
                    while chunk := response.read(1 << 20):
                        part.write(chunk)
                        bar.update(len(chunk))
            if size and part.tell() != size:
                raise ConnectionError(f"the connection closed after {part.tell():,} of {size:,} bytes")
        except BaseException:
            part.close()
            part_path.unlink(missing_ok=True)
            raise
    part_path.replace(target)


def _unpack(spec: TranslationSet, archive: Path) -> Path:
    """Unpack ``archive`` into ``<cache>/<name>`` through a temporary folder, check the
    published layout, and delete the archive. Returns the extracted folder."""
    cache = archive.parent
    with tempfile.TemporaryDirectory(dir=cache, prefix=f".{spec.name}.") as tmp:
        try:
            if archive.name.endswith(".zip"):
                with zipfile.ZipFile(archive) as zf:
                    zf.extractall(tmp)
            else:
                with tarfile.open(archive) as tar:
                    tar.extractall(tmp, filter="data")
                    while tar.fileobj.read(1 << 20):    # to the end: tarfile stops quietly at a cut
                        pass                            # end, gzip's length and CRC check does not
        except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError, zlib.error) as error:
            archive.unlink(missing_ok=True)
            raise DataNotFoundError(
                f"{archive} is not a readable {spec.title} archive ({error}); it was deleted. "
                f"Run again with download=True to fetch it anew. " + _ways(spec)) from error
        missing = _missing(spec, Path(tmp) / spec.name)
        if missing:
            archive.unlink(missing_ok=True)
            found = sorted(p.name for p in Path(tmp).iterdir())
            raise DataNotFoundError(
                f"{archive} does not have the published layout of {spec.title}: expected "
                f"{spec.name}/ with {', '.join(spec.folders)} holding JPEGs, but "
                f"{spec.name}/ lacks {', '.join(missing)} (top level: {found}); it was deleted.")
        target = cache / spec.name
        if _missing(spec, target):           # absent or incomplete (another process may have won)
            shutil.rmtree(target, ignore_errors=True)
            (Path(tmp) / spec.name).rename(target)
    archive.unlink()
    return target


def locate(dataset: str, root: str | os.PathLike | None = None,
           download: bool = False) -> tuple[str, Path]:
    """Find the extracted folder of ``"facades"`` or ``"horse2zebra"``; return
    (description, folder). With ``download=True`` a missing set is fetched into the cache."""
    spec = _spec(dataset)
    incomplete = []
    for label, folder in _candidates(spec, root):
        missing = _missing(spec, folder)
        if not missing:
            return label, folder
        if folder.name == spec.name and folder.is_dir():
            incomplete.append(f"{folder} lacks {', '.join(missing)}")
    note = f" ({'; '.join(incomplete)})" if incomplete else ""
    if not download:
        raise DataNotFoundError(f"{spec.title} was not found offline{note}. " + _ways(spec))
    cache = idx.CACHE_DIR
    url = spec.url()
    try:
        _download(url, cache / spec.archive)
    except (OSError, http.client.HTTPException) as error:   # URLError, HTTPError, timeouts
        raise DataNotFoundError(f"{spec.title} could not be downloaded from {url} ({error}). "
                                + _ways(spec)) from error
    return f"a download of {url} into {cache}", _unpack(spec, cache / spec.archive)


def _read_rgb(path: Path) -> Image.Image:
    try:
        with Image.open(path) as image:
            return image.convert("RGB")
    except (UnidentifiedImageError, OSError) as error:
        raise DataNotFoundError(f"{path} is not a readable JPEG ({error})") from error


def _to_tensor(images: list[np.ndarray]) -> torch.Tensor:
    """A list of (size, size, 3) uint8 arrays -> (N, 3, size, size) float32 in [0, 1]."""
    return torch.from_numpy(np.stack(images)).permute(0, 3, 1, 2).float().div(255).contiguous()


def _resize(image: Image.Image, size: int) -> np.ndarray:
    """(size, size, 3) uint8, resized with Lanczos (antialiased when shrinking)."""
    return np.asarray(image.resize((size, size), Image.Resampling.LANCZOS))


def _check_arguments(size: int, limit: int | None) -> None:
    if size <= 0:
        raise ValueError(f"size must be positive, not {size}")
    if limit is not None and limit <= 0:
        raise ValueError(f"limit must be positive, not {limit}")


def facades(split: str = "train", *, size: int = 64, root: str | os.PathLike | None = None,
            download: bool = False, limit: int | None = None,
            verbose: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Load the CMP Facades pairs of pix2pix (Tyleček & Šára, 2013; Isola et al., 2017).

    Each published JPEG is 512×256: the photo on the LEFT half, its label map (facade parts
    as flat colours) on the RIGHT half. For labels → photo, as in pix2pix, this returns
    ``(inputs, targets)`` = (right halves, left halves): float32 in [0, 1], each of shape
    (N, 3, size, size), resized with an antialiasing (Lanczos) filter. ``split`` is
    ``"train"`` (400), ``"val"`` (100) or ``"test"`` (106); ``limit`` keeps the first
    ``limit`` images in file-name order (1.jpg, 2.jpg, …). Raises DataNotFoundError, which
    says how to get the set, when it is not found offline and ``download`` is False or the
    download fails, and when an archive or an image cannot be read.
    """
    spec = _spec("facades", split)
    _check_arguments(size, limit)
    label, folder = locate("facades", root, download)
    inputs, targets = [], []
    for path in _jpegs(folder / split)[:limit]:
        image = _read_rgb(path)
        width, height = image.size
        if width != 2 * height:
            raise DataNotFoundError(f"{path} is {width}×{height}; a facades image holds the photo "
                                    "and its label map side by side (width = 2 × height)")
        targets.append(_resize(image.crop((0, 0, height, height)), size))          # photo
        inputs.append(_resize(image.crop((height, 0, width, height)), size))       # label map
    x, y = _to_tensor(inputs), _to_tensor(targets)
    if verbose:
        print(f"{spec.title} {split}: {len(x)} label map → photo pairs {tuple(x.shape[1:])} "
              f"from {label}")
    return x, y


def horse2zebra(split: str = "train", *, size: int = 64, root: str | os.PathLike | None = None,
                download: bool = False, limit: int | None = None,
                verbose: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Load CycleGAN's unpaired horse2zebra set (Zhu et al., 2017; ImageNet photos).

    Returns ``(a, b)``: horses and zebras, float32 in [0, 1] of shapes (N_a, 3, size, size)
    and (N_b, 3, size, size), resized from 256×256 with an antialiasing (Lanczos) filter.
    The two domains are unpaired and of different lengths: train 1,067 horses and 1,334
    zebras, test 120 and 140. ``limit`` keeps the first ``limit`` images of each domain in
    file-name order. Raises DataNotFoundError as :func:`facades` does.
    """
    spec = _spec("horse2zebra", split)
    _check_arguments(size, limit)
    label, folder = locate("horse2zebra", root, download)
    a, b = (_to_tensor([_resize(_read_rgb(p), size) for p in _jpegs(folder / domain)[:limit]])
            for domain in spec.splits[split])
    if verbose:
        print(f"{spec.title} {split}: {len(a)} horses and {len(b)} zebras {tuple(a.shape[1:])}, "
              f"unpaired, from {label}")
    return a, b


def available(dataset: str, root: str | os.PathLike | None = None) -> bool:
    """True when ``dataset`` can be loaded without a download."""
    try:
        locate(dataset, root)
    except DataNotFoundError:
        return False
    return True
