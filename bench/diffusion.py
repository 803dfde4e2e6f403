"""Topic 09's diffusion model against diffusers' at the same CPU budget, side by side (`make bench`).

Both models learn Fashion-MNIST at 28 px with the simplified ε-loss on the same linear β
schedule (T = 1000), on the same data, for the same wall-clock budget, in one process, taking
turns (``--chunk`` steps each) so that both see the same machine. Each is then sampled with the
same deterministic DDIM, 50 steps (x̂₀ clipped), and scored by the same classifier Fréchet
distance (genlab's shipped Fashion-MNIST classifier, ``--n`` samples against the 10,000 test
images at 28 px). Real-image references are measured in the same run.

- genlab: ``genlab.nets.UNet`` with the configuration and optimiser settings of the shipped
  ``ddpm-fashion`` checkpoint (its metadata, written by the 09 notebook's export), trained by
  ``genlab.diffusion.DenoiserTraining`` (Adam, warm-up + cosine decay, EMA);
- diffusers: ``UNet2DModel`` in the configuration of the Hugging Face diffusion course's
  Fashion-MNIST/MNIST example (layers_per_block 2, block_out_channels (32, 64, 64), attention
  in the two lower levels), noised by ``DDPMScheduler.add_noise``, trained by the same loop
  with the same learning-rate schedule and EMA, so that the comparison is of the models and
  the libraries, not of two optimisers.

    python bench/diffusion.py [--budget-s 300] [--n 1000] [--threads 2]

Needs the ``bench`` extra (``pip install -e '.[bench]'``: diffusers).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TQDM_DISABLE", "1")

import torch  # noqa: E402
from torch import Tensor, nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402

from genlab import zoo  # noqa: E402
from genlab.data import fashion_mnist  # noqa: E402
from genlab.diffusion import DenoiserTraining, beta_schedule, sample_loop, schedule_tables, timestep_sequence  # noqa: E402
from genlab.metrics import features, frechet_distance  # noqa: E402
from genlab.nets import UNet  # noqa: E402
from genlab.tables import format_table  # noqa: E402

T = 1000


def diffusers_model() -> nn.Module:
    from diffusers import UNet2DModel

    class Wrapped(nn.Module):
        """diffusers' UNet2DModel called as genlab's networks are: model(x_t, t) -> ε̂."""

        def __init__(self):
            super().__init__()
            self.net = UNet2DModel(sample_size=28, in_channels=1, out_channels=1, layers_per_block=2,
                                   block_out_channels=(32, 64, 64),
                                   down_block_types=("DownBlock2D", "AttnDownBlock2D", "AttnDownBlock2D"),
                                   up_block_types=("AttnUpBlock2D", "AttnUpBlock2D", "UpBlock2D"))

        def forward(self, x: Tensor, t: Tensor) -> Tensor:
            return self.net(x, t).sample

    return Wrapped()


def genlab_loss(alphas_cumprod: Tensor):
    def loss(model: nn.Module, x0: Tensor) -> Tensor:
        t = torch.randint(0, T, (len(x0),))
        noise = torch.randn_like(x0)
        abar = alphas_cumprod[t].view(-1, 1, 1, 1)
        return F.mse_loss(model(abar.sqrt() * x0 + (1 - abar).sqrt() * noise, t), noise)
    return loss


def diffusers_loss():
    from diffusers import DDPMScheduler

    scheduler = DDPMScheduler(num_train_timesteps=T, beta_schedule="linear", beta_start=1e-4, beta_end=0.02)

    def loss(model: nn.Module, x0: Tensor) -> Tensor:
        t = torch.randint(0, T, (len(x0),))
        noise = torch.randn_like(x0)
        return F.mse_loss(model(scheduler.add_noise(x0, noise, t), t), noise)
    return loss, scheduler.alphas_cumprod


def ddim50(model: nn.Module, alphas_cumprod: Tensor, n: int, seed: int) -> Tensor:
    """Deterministic DDIM (η = 0, x̂₀ clipped), 50 steps: the same sampler for both models."""
    def step(eps: Tensor, x: Tensor, t: int, t_prev: int) -> Tensor:
        abar = alphas_cumprod[t]
        abar_prev = alphas_cumprod[t_prev] if t_prev >= 0 else torch.tensor(1.0)
        x0 = ((x - (1 - abar).sqrt() * eps) / abar.sqrt()).clamp(-1, 1)
        eps = (x - abar.sqrt() * x0) / (1 - abar).sqrt()
        return abar_prev.sqrt() * x0 + (1 - abar_prev).sqrt() * eps

    return sample_loop(model, step, (n, 1, 28, 28), timestep_sequence(T, 50),
                       generator=torch.Generator().manual_seed(seed), batch_size=500)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget-s", type=float, default=300.0, help="training seconds for each model")
    parser.add_argument("--n", type=int, default=1000, help="samples for the Fréchet distance")
    parser.add_argument("--chunk", type=int, default=25, help="steps per turn")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    try:
        import diffusers
    except ImportError:
        sys.exit("bench/diffusion.py needs diffusers: pip install -e '.[bench]' -c constraints.txt")

    shipped, meta = zoo.load("ddpm-fashion", "cpu", with_meta=True)
    recipe = meta["train"]
    if meta.get("size") != 28:
        sys.exit("the shipped ddpm-fashion is not a 28 px model; re-export it (genlab zoo export 09)")
    _, _, alphas_cumprod = schedule_tables(beta_schedule("linear", T))
    x_train = fashion_mnist("train", verbose=False)[0] * 2 - 1
    test_features = features(fashion_mnist("test", verbose=False)[0])

    def fd(images: Tensor) -> float:
        return frechet_distance(features(images.clamp(0, 1)), test_features)

    d_loss, d_alphas_cumprod = diffusers_loss()
    torch.manual_seed(args.seed)
    sides = {
        "genlab": dict(model=UNet(**shipped.config), loss=genlab_loss(alphas_cumprod),
                       alphas_cumprod=alphas_cumprod),
        f"diffusers {diffusers.__version__}": dict(model=diffusers_model(), loss=d_loss,
                                                   alphas_cumprod=d_alphas_cumprod.float()),
    }
    # seconds per step of each (a few steps on a throwaway copy) to set each schedule's length
    for side in sides.values():
        probe = DenoiserTraining(_copy(side["model"]), side["loss"], x_train, steps=11, batch_size=recipe["batch"],
                                 progress=False)
        probe.run(3)                                   # the first steps allocate: not timed
        started = time.perf_counter()
        probe.run(8)
        side["steps"] = max(1, int(args.budget_s / ((time.perf_counter() - started) / 8)))
        side["training"] = DenoiserTraining(side["model"], side["loss"], x_train, steps=side["steps"],
                                            batch_size=recipe["batch"], lr=recipe["lr"], ema_decay=recipe["ema"],
                                            ema_warmup=True, warmup=recipe["warmup"], seed=args.seed, progress=False)
        side["seconds"] = 0.0
    print(f"training each model for {args.budget_s:.0f} s, {args.chunk} steps a turn "
          f"({torch.get_num_threads()} threads) ...", flush=True)
    while any(not s["training"].done and s["seconds"] < args.budget_s for s in sides.values()):
        for side in sides.values():
            if side["training"].done or side["seconds"] >= args.budget_s:
                continue
            started = time.perf_counter()
            side["training"].run(args.chunk)
            side["seconds"] += time.perf_counter() - started
    rows = []
    for name, side in sides.items():
        ema_model, losses = side["training"].finish()
        started = time.perf_counter()
        samples = ddim50(ema_model, side["alphas_cumprod"], args.n, args.seed + 1)
        sampling = time.perf_counter() - started
        side["fd"] = fd((samples + 1) / 2)
        params = sum(p.numel() for p in side["model"].parameters())
        rows.append((name, f"{params / 1e6:.2f} M", len(losses), f"{side['seconds'] / len(losses):.3f}",
                     f"{side['seconds']:.0f}", f"{sampling:.0f}", f"{side['fd']:.1f}"))
        print(f"  {name}: {len(losses)} steps, FD {side['fd']:.1f}", flush=True)

    real = fashion_mnist("train", verbose=False)[0]
    pick = real[torch.randperm(len(real), generator=torch.Generator().manual_seed(args.seed))[:args.n]]
    low = F.avg_pool2d(pick, 2)
    references = [("real training images, 28 px", fd(pick)),
                  ("real, down to 14 px and back by nearest neighbour", fd(F.interpolate(low, scale_factor=2))),
                  ("real, down to 14 px and back bilinearly", fd(F.interpolate(low, scale_factor=2, mode="bilinear")))]
    print()
    print(format_table(rows, ("model", "parameters", "steps", "s/step", "train s", f"DDIM-50 s ({args.n})",
                              f"FD ({args.n})")))
    print()
    print(format_table([(label, f"{value:.1f}") for label, value in references], ("reference", f"FD ({args.n})")))
    genlab_fd, diffusers_fd = (side["fd"] for side in sides.values())
    print("(each schedule's length is set from a timed probe; 'train s' is the time each really took)")
    print(f"\nat {args.budget_s:.0f} s each: diffusers' FD / genlab's FD = {diffusers_fd / genlab_fd:.2f} "
          f"({'genlab better' if genlab_fd < diffusers_fd else 'diffusers better'})")


def _copy(model: nn.Module) -> nn.Module:
    import copy
    return copy.deepcopy(model)


if __name__ == "__main__":
    main()
