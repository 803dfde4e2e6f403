"""Recipes of the shared models in the zoo (no student writes them), and the zoo's command.

The evaluation classifiers and the text-to-image models that several topics use are
trained here and saved into data/checkpoints with :func:`genlab.zoo.save`::

    python -m genlab.zoo train fashion-classifier --profile cpu --seed 0 --write

``--write`` saves data/checkpoints/<name>.pt and puts its row (sha256, size, the exact
command, profile, seed and the accuracy reached) into data/MANIFEST. ``python -m genlab.zoo
list | verify`` (and ``genlab zoo list | verify``) print what is shipped and check it.

This module sits above the storage (:mod:`genlab.zoo`) and the topic code it trains with
(:mod:`genlab.t2i`); see docs/architecture.md.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genlab import zoo
from genlab.profiles import choose, device as default_device, seed_all
from genlab.tables import format_table

DESCRIPTION = "The model zoo: small checkpoints shipped in data/checkpoints, each made by code in this repo."


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
    from genlab.data import FASHION_CLASSES, fashion_mnist
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
            "classes": list(FASHION_CLASSES)}
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
        raise zoo.ZooError(f"no recipe named {name!r}; recipes: {', '.join(RECIPES)}")
    start = time.perf_counter()
    model, meta = RECIPES[name].train(profile, seed)
    meta.update(name=name, dataset=RECIPES[name].dataset, profile=profile, seed=seed,
                seconds=round(time.perf_counter() - start, 1), torch=str(torch.__version__))
    return model.cpu().eval(), meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m genlab.zoo", description=DESCRIPTION)
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
        rows = [(r.path.removeprefix("checkpoints/").removesuffix(".pt"), f"{r.size / 1024:.0f} KB",
                 r.figure, r.command) for r in zoo.list_models()]
        print(format_table(rows, ("name", "size", "figure reached", "made by")))
        return 0
    if args.command == "verify":
        bad = 0
        for r in zoo.list_models():
            name = r.path.removeprefix("checkpoints/").removesuffix(".pt")
            try:
                zoo.verify(name)
                print(f"ok       {name}")
            except zoo.ZooError as error:
                bad += 1
                print(f"FAILED   {error}")
        return 1 if bad else 0
    model, meta = train(args.name, args.profile, args.seed)
    print(f"{args.name}: {meta['figure']} ({meta['seconds']} s, profile {args.profile})")
    if args.write or args.out:
        path = Path(args.out) if args.out else zoo.checkpoint_path(args.name)
        command = "python -m genlab.zoo " + " ".join(shlex.quote(a) for a in
                                                     (argv if argv is not None else sys.argv[1:]))
        meta["command"] = command
        zoo.save(model, meta, path)
        print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KB, sha256 {zoo.sha256_of(path)})")
        if args.write:
            zoo.write_manifest_row(zoo.ManifestRow(f"checkpoints/{args.name}.pt", zoo.sha256_of(path),
                                           path.stat().st_size,
                                           f"{command} (profile {args.profile}, seed {args.seed})",
                                           meta["figure"]))
    return 0
