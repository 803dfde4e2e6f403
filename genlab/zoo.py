"""The model zoo: small checkpoints shipped in data/checkpoints, each made by code in this repo.

``load(name)`` checks the file's sha256 against its row in data/MANIFEST before it builds
the network, so a missing or altered file is reported instead of silently grading with
other weights. ``list_models()`` says what is shipped and how each file was made.

The evaluation classifiers are trained by the recipes below::

    python -m genlab.zoo train fashion-classifier --profile cpu --seed 0 --write

``--write`` saves data/checkpoints/<name>.pt and puts its row (sha256, size, the exact
command, profile, seed and the accuracy reached) into data/MANIFEST. Topic checkpoints
(e.g. diffusion models) are made by running a solution notebook with its export parameter
and are saved with :func:`save`.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import io
import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab.course import REPO_ROOT
from genlab.profiles import choose, device as default_device, seed_all

DATA_DIR = REPO_ROOT / "data"
CHECKPOINT_DIR = DATA_DIR / "checkpoints"
MANIFEST = DATA_DIR / "MANIFEST"
MANIFEST_HEADER = (
    "# Every file shipped under data/ (data/cache/ excepted), one per line, tab-separated:\n"
    "# path (relative to data/)\tsha256\tbytes\tcommand that made it (profile, seed)\tfigure reached\n"
    "# tests/test_data.py checks that each file is listed with the right hash and that each "
    "row names a file.\n")


class ZooError(RuntimeError):
    """A checkpoint is missing, altered, or unknown."""


@dataclass(frozen=True)
class ManifestRow:
    path: str          # relative to data/
    sha256: str
    size: int
    command: str
    figure: str


def manifest(path: Path = MANIFEST) -> dict[str, ManifestRow]:
    """The rows of data/MANIFEST keyed by their path (relative to data/)."""
    rows = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            fields = line.split("\t")
            if len(fields) != 5:
                raise ZooError(f"{path}: a row needs 5 tab-separated fields, found {len(fields)}: "
                               f"{line[:80]!r}")
            rows[fields[0]] = ManifestRow(fields[0], fields[1], int(fields[2]), fields[3], fields[4])
    return rows


def write_manifest_row(row: ManifestRow, path: Path = MANIFEST) -> None:
    """Add ``row`` to data/MANIFEST, replacing the row of the same file; rows stay sorted."""
    rows = manifest(path) if path.exists() else {}
    rows[row.path] = row
    body = "".join(f"{r.path}\t{r.sha256}\t{r.size}\t{r.command}\t{r.figure}\n"
                   for r in sorted(rows.values(), key=lambda r: r.path))
    path.write_text(MANIFEST_HEADER + body)


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def checkpoint_path(name: str) -> Path:
    return CHECKPOINT_DIR / f"{name}.pt"


def list_models() -> list[ManifestRow]:
    """The MANIFEST rows of every shipped checkpoint."""
    return [r for p, r in sorted(manifest().items()) if p.startswith("checkpoints/")]


def verify(name: str) -> Path:
    """Return the checkpoint's path after checking it exists and matches data/MANIFEST."""
    path = checkpoint_path(name)
    rows = manifest()
    key = f"checkpoints/{name}.pt"
    if key not in rows:
        known = ", ".join(r.path.removeprefix("checkpoints/").removesuffix(".pt")
                          for r in list_models()) or "none"
        raise ZooError(f"no checkpoint named {name!r} in data/MANIFEST; shipped: {known}")
    row = rows[key]
    if not path.is_file():
        raise ZooError(f"{path} is missing. Restore it with `git checkout -- data/{key}` or "
                       f"remake it with: {row.command}")
    found = sha256_of(path)
    if found != row.sha256:
        raise ZooError(f"{path} was altered: its sha256 is {found[:12]}…, data/MANIFEST says "
                       f"{row.sha256[:12]}…. Restore it with `git checkout -- data/{key}` or "
                       f"remake it with: {row.command}")
    return path


def _build(class_path: str, config: dict) -> nn.Module:
    module_name, _, class_name = class_path.rpartition(".")
    if not module_name.startswith("genlab."):
        raise ZooError(f"checkpoints may only build genlab networks, not {class_path!r}")
    return getattr(importlib.import_module(module_name), class_name)(**config)


def load(name: str, device: torch.device | str | None = None, *,
         with_meta: bool = False) -> nn.Module | tuple[nn.Module, dict]:
    """Load a shipped checkpoint by name, verified, in eval mode, with frozen weights.

    With ``with_meta=True`` also return its metadata (how it was made, what it reached,
    reference feature statistics for the metrics)."""
    path = verify(name)
    blob = torch.load(path, map_location="cpu", weights_only=True)
    model = _build(blob["class"], blob["config"])
    model.load_state_dict(blob["state_dict"])
    model.to(device or default_device()).eval().requires_grad_(False)
    return (model, blob["meta"]) if with_meta else model


def save(model: nn.Module, meta: dict, path: Path) -> Path:
    """Save ``model`` (a genlab network with a ``config`` dict) with its metadata."""
    cls = type(model)
    blob = {"class": f"{cls.__module__}.{cls.__qualname__}", "config": model.config,
            "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
            "meta": meta}
    buffer = io.BytesIO()
    torch.save(blob, buffer)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


# --- recipes for the evaluation classifiers -------------------------------------------------

def _shift(x: Tensor, max_shift: int, g: torch.Generator) -> Tensor:
    """Translate each image by up to ``max_shift`` pixels (zero/edge padding by replicate)."""
    n, _, h, w = x.shape
    padded = F.pad(x, [max_shift] * 4, mode="replicate")
    dx, dy = torch.randint(0, 2 * max_shift + 1, (2, n), generator=g).tolist()
    return torch.stack([padded[i, :, dy[i]:dy[i] + h, dx[i]:dx[i] + w] for i in range(n)])


@torch.no_grad()
def feature_stats(model: nn.Module, images: Tensor, batch_size: int = 1000) -> dict[str, Tensor]:
    """Mean (D,) and covariance (D, D) in float64 of the model's features on ``images``."""
    dev = next(model.parameters()).device
    feats = torch.cat([model.features(images[i:i + batch_size].to(dev)).double().cpu()
                       for i in range(0, len(images), batch_size)])
    return {"mean": feats.mean(0), "cov": torch.cov(feats.T), "n": len(feats)}


def _accuracy(model: nn.Module, x: Tensor, y: Tensor, head: str | None = None) -> float:
    return (model.predict(x, head) == y).float().mean().item()


@dataclass
class Recipe:
    dataset: str
    description: str
    train: Callable[[str, int], tuple[nn.Module, dict]]


def _train_fashion(profile: str, seed: int) -> tuple[nn.Module, dict]:
    from genlab.data import fashion_mnist
    from genlab.nets import ConvClassifier
    from genlab.train import fit

    cfg = choose(ci=dict(n_train=4000, steps=120), cpu=dict(n_train=None, steps=4000),
                 gpu=dict(n_train=None, steps=4000), profile_name=profile)
    x, y = fashion_mnist("train", limit=cfg["n_train"], verbose=False)
    x_test, y_test = fashion_mnist("test", verbose=False)
    g = seed_all(seed)
    model = ConvClassifier(1, {"label": 10}, width=16, image_size=28).to(default_device())

    def loss_fn(m: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
        xb, yb = batch
        flip = torch.rand(len(xb), generator=g) < 0.5
        xb = torch.where(flip.view(-1, 1, 1, 1).to(xb.device), xb.flip(-1), xb)
        return F.cross_entropy(m(_shift(xb, 2, g)), yb)

    fit(model, loss_fn, (x, y), steps=cfg["steps"], lr=2e-3, batch_size=128, seed=seed,
        schedule="cosine", desc="fashion-classifier")
    accuracy = _accuracy(model, x_test, y_test)
    meta = {"figure": f"test accuracy {accuracy:.4f} on 10,000 Fashion-MNIST test images",
            "accuracy": accuracy, "reference": feature_stats(model, x_test),
            "reference_split": "fashion-mnist test (10,000)", "input": "(B, 1, 28, 28) in [0, 1]",
            "classes": list(__import__("genlab.data", fromlist=["FASHION_CLASSES"]).FASHION_CLASSES)}
    return model, meta


def _train_emoji(profile: str, seed: int) -> tuple[nn.Module, dict]:
    from genlab.data import EMOJI_GROUPS, emoji
    from genlab.nets import ConvClassifier
    from genlab.train import fit

    cfg = choose(ci=dict(steps=60), cpu=dict(steps=3000), gpu=dict(steps=3000),
                 profile_name=profile)
    train = emoji("train", skintones=True, verbose=False)
    test = emoji("test", verbose=False)
    g = seed_all(seed)
    model = ConvClassifier(3, {"group": len(EMOJI_GROUPS)}, width=16,
                           image_size=32).to(default_device())

    def loss_fn(m: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
        xb, yb = batch
        flip = torch.rand(len(xb), generator=g) < 0.5
        xb = torch.where(flip.view(-1, 1, 1, 1).to(xb.device), xb.flip(-1), xb)
        return F.cross_entropy(m(_shift(xb, 3, g)), yb, label_smoothing=0.1)

    fit(model, loss_fn, (train.images, train.labels), steps=cfg["steps"], lr=2e-3,
        batch_size=64, seed=seed, weight_decay=1e-4, schedule="cosine", desc="emoji-classifier")
    accuracy = _accuracy(model, test.images, test.labels)
    majority = test.labels.bincount().max().item() / len(test)
    meta = {"figure": f"test accuracy {accuracy:.4f} on {len(test)} held-out emoji, 11 groups "
                      f"(majority class {majority:.3f})",
            "accuracy": accuracy, "reference": feature_stats(model, emoji("all", verbose=False).images),
            "reference_split": "OpenMoji all (no skin-tone variants)",
            "input": "(B, 3, 32, 32) in [0, 1]", "classes": list(EMOJI_GROUPS)}
    return model, meta


def _train_shapes(profile: str, seed: int) -> tuple[nn.Module, dict]:
    from genlab.data.procedural import BACKGROUNDS, COLOURS, POSITIONS, SHAPES, SIZES, shapes
    from genlab.nets import ConvClassifier
    from genlab.train import fit

    heads = {"shape": SHAPES, "colour": tuple(COLOURS), "background": tuple(BACKGROUNDS),
             "size": tuple(SIZES), "position": tuple(POSITIONS)}
    cfg = choose(ci=dict(n_train=3000, steps=150), cpu=dict(n_train=30000, steps=2500),
                 gpu=dict(n_train=30000, steps=2500), profile_name=profile)
    data = shapes(cfg["n_train"], seed=seed)
    test = shapes(2000, seed=10_000 + seed)
    g = seed_all(seed)
    model = ConvClassifier(3, {k: len(v) for k, v in heads.items()}, width=16,
                           image_size=32).to(default_device())
    labels = torch.stack([data.attributes[k] for k in heads], dim=1)             # (N, 5)

    def loss_fn(m: nn.Module, batch: tuple[Tensor, Tensor]) -> Tensor:
        xb, yb = batch
        sigma = 0.15 * torch.rand(len(xb), 1, 1, 1, generator=g).to(xb.device)   # robustness
        logits = m.logits((xb + sigma * torch.randn(xb.shape, generator=g).to(xb.device)).clamp(0, 1))
        return sum(F.cross_entropy(logits[k], yb[:, j]) for j, k in enumerate(heads))

    fit(model, loss_fn, (data.images, labels), steps=cfg["steps"], lr=2e-3, batch_size=128,
        seed=seed, schedule="cosine", desc="shapes-classifier")
    noisy = (test.images + 0.1 * torch.randn(test.images.shape, generator=g)).clamp(0, 1)
    accuracy = {k: _accuracy(model, test.images, test.attributes[k], k) for k in heads}
    noisy_accuracy = {k: _accuracy(model, noisy, test.attributes[k], k) for k in heads}
    figure = ", ".join(f"{k} {accuracy[k]:.3f}" for k in heads)
    meta = {"figure": f"test accuracy {figure} (with noise σ=0.1: shape "
                      f"{noisy_accuracy['shape']:.3f}, colour {noisy_accuracy['colour']:.3f})",
            "accuracy": accuracy, "noisy_accuracy": noisy_accuracy,
            "reference": feature_stats(model, test.images),
            "reference_split": f"shapes(2000, seed={10_000 + seed})",
            "input": "(B, 3, 32, 32) in [0, 1]", "classes": {k: list(v) for k, v in heads.items()}}
    return model, meta


def _train_t2i(profile: str, seed: int) -> tuple[nn.Module, dict]:
    from genlab import t2i

    cfg = choose(ci=dict(steps=60, text_steps=20, n_images=2000, n_eval=32),
                 cpu=dict(steps=5000, text_steps=2000, n_images=20_000, n_eval=300),
                 gpu=dict(steps=5000, text_steps=2000, n_images=20_000, n_eval=300),
                 profile_name=profile)
    seed_all(seed)
    model, losses = t2i.train_base_model(steps=cfg["steps"], text_steps=cfg["text_steps"],
                                         n_images=cfg["n_images"], seed=seed,
                                         device=default_device())
    model = model.cpu()
    scores = t2i.evaluate_prompts(model, cfg["n_eval"], seed=seed)
    separation = t2i.caption_separation(model)
    figure = ", ".join(f"{k} {v:.3f}" for k, v in scores.items())
    meta = {"figure": f"attribute accuracy of {cfg['n_eval']} samples for full captions "
                      f"(Heun 12 steps, guidance 3): {figure}",
            "accuracy": scores, "caption_separation": separation,
            "final_loss": sum(losses[-100:]) / max(len(losses[-100:]), 1),
            "steps": cfg["steps"], "hidden_word": t2i.HIDDEN_WORD, "unseen_shape": t2i.UNSEEN_SHAPE,
            "input": "x_t (B, 3, 32, 32) in [-1, 1] scale, t (B,), cond (B, 128)"}
    return model, meta


def _train_emoji_t2i(profile: str, seed: int) -> tuple[nn.Module, dict]:
    from genlab import t2i

    cfg = choose(ci=dict(steps=40, n_eval=16), cpu=dict(steps=6000, n_eval=200),
                 gpu=dict(steps=6000, n_eval=200), profile_name=profile)
    seed_all(seed)
    model, losses = t2i.train_emoji_model(steps=cfg["steps"], seed=seed, device=default_device())
    model = model.cpu()
    scores = t2i.evaluate_emoji_model(model, cfg["n_eval"], seed=seed)
    meta = {"figure": f"{cfg['n_eval']} samples each (Heun 12 steps, guidance 3): training prompts "
                      f"drew their own emoji (nearest training image) {scores['train_nearest']:.3f}, "
                      f"group read right {scores['train_group']:.3f} (real {scores['real_train_group']:.3f}, "
                      f"no prompt {scores['null_group']:.3f}); held-out prompts group "
                      f"{scores['test_group']:.3f} (real {scores['real_test_group']:.3f})",
            "scores": scores, "final_loss": sum(losses[-100:]) / max(len(losses[-100:]), 1),
            "steps": cfg["steps"], "vocabulary": len(model.tokenizer),
            "input": "x_t (B, 3, 32, 32) in [-1, 1] scale, t (B,), cond (B, 128)"}
    return model, meta


RECIPES = {
    "fashion-classifier": Recipe("fashion-mnist", "Fashion-MNIST, 10 classes, 28×28 grey",
                                 _train_fashion),
    "emoji-classifier": Recipe("emoji", "OpenMoji group, 11 classes, 32×32 colour", _train_emoji),
    "shapes-classifier": Recipe("shapes", "procedural shapes: shape, colour, background, size, "
                                          "position heads", _train_shapes),
    "shapes-t2i": Recipe("shapes-captions", "text-to-image diffusion on captioned shapes (no "
                                            "'star' in captions, no hearts)", _train_t2i),
    "emoji-t2i": Recipe("emoji-captions", "text-to-image diffusion on OpenMoji with its Unicode "
                                          "names (words naming >= 2 emoji)", _train_emoji_t2i),
}
DATASET_CLASSIFIERS = {r.dataset: name for name, r in RECIPES.items()}


def train(name: str, profile: str = "cpu", seed: int = 0) -> tuple[nn.Module, dict]:
    """Train the evaluation classifier ``name`` with its recipe; return (model, meta)."""
    if name not in RECIPES:
        raise ZooError(f"no recipe named {name!r}; recipes: {', '.join(RECIPES)}")
    start = time.perf_counter()
    model, meta = RECIPES[name].train(profile, seed)
    meta.update(name=name, dataset=RECIPES[name].dataset, profile=profile, seed=seed,
                seconds=round(time.perf_counter() - start, 1), torch=str(torch.__version__))
    return model.cpu().eval(), meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genlab.zoo", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="shipped checkpoints and how each was made")
    sub.add_parser("verify", help="check every shipped checkpoint against data/MANIFEST")
    p = sub.add_parser("train", help="train an evaluation classifier from its recipe")
    p.add_argument("name", choices=sorted(RECIPES))
    p.add_argument("--profile", default="cpu", choices=("ci", "cpu", "gpu"))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--write", action="store_true",
                   help="save into data/checkpoints and update data/MANIFEST")
    p.add_argument("--out", help="save here instead (no MANIFEST row)")
    args = parser.parse_args(argv)
    if args.command == "list":
        from genlab.cli import format_table

        rows = [(r.path.removeprefix("checkpoints/").removesuffix(".pt"), f"{r.size / 1024:.0f} KB",
                 r.figure, r.command) for r in list_models()]
        print(format_table(rows, ("name", "size", "figure reached", "made by")))
        return 0
    if args.command == "verify":
        bad = 0
        for r in list_models():
            name = r.path.removeprefix("checkpoints/").removesuffix(".pt")
            try:
                verify(name)
                print(f"ok       {name}")
            except ZooError as error:
                bad += 1
                print(f"FAILED   {error}")
        return 1 if bad else 0
    model, meta = train(args.name, args.profile, args.seed)
    print(f"{args.name}: {meta['figure']} ({meta['seconds']} s, profile {args.profile})")
    if args.write or args.out:
        path = Path(args.out) if args.out else checkpoint_path(args.name)
        command = "python -m genlab.zoo " + " ".join(shlex.quote(a) for a in
                                                     (argv if argv is not None else sys.argv[1:]))
        meta["command"] = command
        save(model, meta, path)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB, sha256 {sha256_of(path)})")
        if args.write:
            write_manifest_row(ManifestRow(f"checkpoints/{args.name}.pt", sha256_of(path),
                                           path.stat().st_size,
                                           f"{command} (profile {args.profile}, seed {args.seed})",
                                           meta["figure"]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
