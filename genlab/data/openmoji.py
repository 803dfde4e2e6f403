"""OpenMoji emoji at 32×32: colour images paired with their black line art and captions.

OpenMoji (https://openmoji.org, CC BY-SA 4.0) draws every emoji twice, in colour and as
black line art, and names it ("grinning face", "red apple"). That gives paired data for
image-to-image translation (line art → colour: pix2pix, ControlNet), captions for text
conditioning, and group labels ("animals-nature", "food-drink", …) for a classifier.

The shipped file ``data/openmoji-32px.npz`` is made once from the npm package by
:func:`prepare` (``python -m genlab.data.openmoji prepare``); the row in data/MANIFEST
gives the exact command. The attribution is in data/NOTICE.
"""
from __future__ import annotations

import argparse
import io
import json
import tarfile
import tempfile
import zipfile
import zlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch

from genlab.data.idx import REPO_ROOT, DataNotFoundError

EMOJI_FILE = REPO_ROOT / "data" / "openmoji-32px.npz"
OPENMOJI_VERSION = "17.0.0"
GROUPS = ("smileys-emotion", "people-body", "animals-nature", "food-drink", "travel-places",
          "activities", "objects", "symbols", "flags", "extras-openmoji", "extras-unicode")
SPLITS = ("train", "test", "all")
SIZE = 32


@dataclass
class EmojiSet:
    """A selection of OpenMoji emoji (see :func:`emoji`)."""

    images: torch.Tensor      # (N, 3, 32, 32) float32 in [0, 1], colour on white
    line_art: torch.Tensor    # (N, 1, 32, 32) float32 in [0, 1], black lines (0) on white (1)
    labels: torch.Tensor      # (N,) int64, index into GROUPS
    captions: list[str]       # OpenMoji's annotation, e.g. "grinning face"
    subgroups: list[str]      # e.g. "face-smiling"
    hexcodes: list[str]       # e.g. "1F600"; variants e.g. "1F44B-1F3FB"

    groups = GROUPS

    def __len__(self) -> int:
        return len(self.images)


def _is_test(base_hexcode: str) -> bool:
    """Every 10th emoji (by a hash of its base code point) is held out; skin-tone variants
    follow their base emoji, so no face appears on both sides of the split."""
    return zlib.crc32(base_hexcode.encode()) % 10 == 0


@lru_cache(maxsize=1)
def _arrays(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataNotFoundError(
            f"{path} is missing. It ships with the course repository; restore it with "
            f"`git checkout -- data/{path.name}`, or remake it from the npm package: "
            "python -m genlab.data.openmoji prepare (needs npm and cairosvg).")
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def emoji(split: str = "train", *, groups: tuple[str, ...] | list[str] | None = None,
          skintones: bool = False, path: str | Path | None = None,
          verbose: bool = True) -> EmojiSet:
    """Load OpenMoji emoji at 32×32, each with its line art, caption and group.

    ``split``: ``"train"`` (about 90 %), ``"test"`` (every emoji whose base code point
    hashes to 0 mod 10) or ``"all"``. ``groups`` keeps only those OpenMoji groups (names
    from ``GROUPS``); labels stay indices into ``GROUPS``. ``skintones=True`` adds the
    2,000 skin-tone variants of people emoji (same drawing, other colours).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {list(SPLITS)}, not {split!r}")
    unknown = sorted(set(groups or ()) - set(GROUPS))
    if unknown:
        raise ValueError(f"unknown OpenMoji group(s) {unknown}; known: {', '.join(GROUPS)}")
    file = Path(path) if path else EMOJI_FILE
    a = _arrays(file)
    group = a["group"].tolist()
    keep = np.array([g in GROUPS and (groups is None or g in groups) for g in group])
    if not skintones:
        keep &= a["skintone"] == 0
    if split != "all":
        test = np.array([_is_test(b) for b in a["base"].tolist()])
        keep &= test if split == "test" else ~test
    idx = np.flatnonzero(keep)
    images = torch.from_numpy(a["color"][idx]).permute(0, 3, 1, 2).float() / 255
    line_art = torch.from_numpy(a["line"][idx]).unsqueeze(1).float() / 255
    labels = torch.tensor([GROUPS.index(group[i]) for i in idx], dtype=torch.int64)
    out = EmojiSet(images, line_art, labels, a["annotation"][idx].tolist(),
                   a["subgroup"][idx].tolist(), a["hexcode"][idx].tolist())
    if verbose:
        print(f"OpenMoji {OPENMOJI_VERSION} {split}: {len(out)} emoji (3, 32, 32) "
              f"with line art and captions from {file}")
    return out


# --- preparing the shipped file (run once; needs the npm package and cairosvg) -------------

def _render(svg: bytes, size: int) -> np.ndarray:
    import cairosvg
    from PIL import Image

    png = cairosvg.svg2png(bytestring=svg, output_width=size, output_height=size,
                           background_color="white")
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _write_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """np.savez_compressed, but byte-for-byte reproducible (fixed zip timestamps)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, array in arrays.items():
            buffer = io.BytesIO()
            np.lib.format.write_array(buffer, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, buffer.getvalue(), compresslevel=9)


def prepare(tarball: str | Path, out: str | Path = EMOJI_FILE, size: int = SIZE) -> Path:
    """Render every OpenMoji emoji of the npm tarball ``openmoji-<version>.tgz`` (from
    ``npm pack openmoji@17.0.0``) at ``size`` px, in colour and as line art, and write the
    arrays, captions and groups to ``out``."""
    with tempfile.TemporaryDirectory() as tmp:
        with tarfile.open(tarball) as tar:      # random access into a .tgz is slow: unpack
            tar.extractall(tmp, filter="data")
        package = Path(tmp) / "package"
        entries, color, line = [], [], []
        for i, e in enumerate(json.loads((package / "data/openmoji.json").read_text())):
            try:
                c = _render((package / f"color/svg/{e['hexcode']}.svg").read_bytes(), size)
                b = _render((package / f"black/svg/{e['hexcode']}.svg").read_bytes(), size)
            except Exception as error:  # noqa: BLE001 - cairosvg fails on a few drawings
                print(f"skipped {e['hexcode']} ({e['annotation']}): {error!r}")
                continue
            entries.append(e)
            color.append(c)
            line.append(b.min(axis=2))
            if i % 1000 == 0:
                print(f"rendered {i} emoji", flush=True)
    arrays = {
        "color": np.stack(color), "line": np.stack(line),
        "hexcode": np.array([e["hexcode"] for e in entries]),
        "base": np.array([e["skintone_base_hexcode"] or e["hexcode"] for e in entries]),
        "annotation": np.array([e["annotation"] for e in entries]),
        "group": np.array([e["group"] for e in entries]),
        "subgroup": np.array([e["subgroups"] for e in entries]),
        "skintone": np.array([0 if e["skintone"] == "" else 1 for e in entries], dtype=np.int8),
    }
    out = Path(out)
    _write_npz(out, arrays)
    print(f"wrote {out}: {len(entries)} emoji, {out.stat().st_size / 2**20:.1f} MB")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m genlab.data.openmoji")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="render the npm package into data/openmoji-32px.npz")
    p.add_argument("tarball", help=f"openmoji-{OPENMOJI_VERSION}.tgz from "
                                   f"`npm pack openmoji@{OPENMOJI_VERSION}`")
    p.add_argument("--out", default=str(EMOJI_FILE))
    args = parser.parse_args(argv)
    prepare(args.tarball, args.out)


if __name__ == "__main__":
    main()
