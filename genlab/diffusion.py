"""Diffusion plumbing shared by topics 09–12 (no assignment answers in here).

What the students write — q_sample, the ε-prediction loss, the posterior, the DDPM and DDIM
steps — lives in the solution notebooks. This module only provides what every diffusion
notebook needs around those pieces:

- :func:`beta_schedule`: the β_t tables of Ho et al. (linear 1e-4 → 0.02) and Nichol &
  Dhariwal (cosine), as float64 tensors (T,); :func:`schedule_tables`: β_t, α_t, ᾱ_t as
  float32 (the products in float64 first);
- :func:`timestep_sequence`: the decreasing sub-sequence of timesteps a sampler visits, in one
  of three spacings (DDIM's uniform stride, evenly from T − 1, Karras et al.'s σ-spacing);
- :class:`EMA`: an exponential moving average of a network's weights;
- :func:`train_denoiser`: the training loop (Adam, EMA, tqdm) around a student's loss;
- :func:`sample_loop`: the reverse-process loop around a student's update rule, and
  :func:`encode_loop`, the same loop run forwards (deterministic DDIM encoding);
- :class:`DPMSolver2M`: a second-order update rule for that loop (DPM-Solver++(2M)), one
  network evaluation per step;
- :func:`resolution_references`: the classifier Fréchet distance of real images at 28 px and
  brought down to 14 px and back, printed beside a model's.

Timesteps are 0-based indices t ∈ {0, …, T−1} (as in diffusers): index t is the paper's
step t + 1, ``alphas_cumprod[t]`` is ᾱ_{t+1}, and "ᾱ before the first step" is 1.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from genlab.data import fashion_mnist
from genlab.metrics import classifier_fd
from genlab.train import minibatches


def beta_schedule(kind: str = "linear", num_timesteps: int = 1000, *,
                  beta_start: float = 1e-4, beta_end: float = 0.02, cosine_s: float = 0.008,
                  max_beta: float = 0.999) -> Tensor:
    """The noise schedule β_t, float64 (T,).

    ``"linear"``: evenly spaced from ``beta_start`` to ``beta_end`` (Ho et al., 2020; the
    end points are scaled by 1000 / T so that other T keep the same overall noise).
    ``"cosine"``: ᾱ(t) = f(t)/f(0), f(t) = cos²((t/T + s)/(1 + s)·π/2), and
    β_t = 1 − ᾱ(t+1)/ᾱ(t) clipped at ``max_beta`` (Nichol & Dhariwal, 2021)."""
    if num_timesteps < 1:
        raise ValueError(f"num_timesteps must be >= 1, not {num_timesteps}")
    if kind == "linear":
        scale = 1000 / num_timesteps
        return torch.linspace(beta_start * scale, beta_end * scale, num_timesteps, dtype=torch.float64)
    if kind == "cosine":
        steps = torch.arange(num_timesteps + 1, dtype=torch.float64) / num_timesteps
        f = torch.cos((steps + cosine_s) / (1 + cosine_s) * math.pi / 2) ** 2
        alphas_bar = f / f[0]                                                   # (T + 1,)
        return (1 - alphas_bar[1:] / alphas_bar[:-1]).clamp(max=max_beta)
    raise ValueError(f"kind must be 'linear' or 'cosine', not {kind!r}")


def schedule_tables(betas: Tensor, dtype: torch.dtype = torch.float32) -> tuple[Tensor, Tensor, Tensor]:
    """(betas, alphas, alphas_cumprod), ``dtype`` (T,) each, computed in float64:
    α_t = 1 − β_t, ᾱ_t = Π_{s≤t} α_s. float64 suits closed-form checks on toy data."""
    betas = betas.double()
    alphas = 1 - betas
    alphas_cumprod = torch.cumprod(alphas, dim=0)
    return betas.to(dtype), alphas.to(dtype), alphas_cumprod.to(dtype)


SPACINGS = ("uniform", "linspace", "karras")


def sigmas_for(alphas_cumprod: Tensor, timesteps: list[int]) -> Tensor:
    """σ_t = √((1 − ᾱ_t)/ᾱ_t) at the given timesteps, float64: the noise-to-signal ratio that
    x_t/√ᾱ_t carries (the variance-exploding view of the same process)."""
    a = alphas_cumprod.double()[torch.tensor(timesteps)]
    return ((1 - a) / a).sqrt()


def timestep_sequence(num_timesteps: int, num_steps: int, spacing: str = "uniform", *,
                      alphas_cumprod: Tensor | None = None, rho: float = 7.0) -> list[int]:
    """The ``num_steps`` timesteps a sampler visits, decreasing and ending at 0.

    - ``"uniform"`` (DDIM's sub-sequence): evenly spaced with stride T/``num_steps``, e.g.
      T = 1000, 4 steps → [750, 500, 250, 0]; the first step starts below T − 1.
    - ``"linspace"``: evenly spaced from T − 1 down to 0, both included (T = 1000, 4 steps
      → [999, 666, 333, 0]). With the linear β schedule most of them fall where σ_t is large,
      and the last step jumps from σ ≈ 0.3 (t ≈ 90) to σ ≈ 0.01.
    - ``"karras"``: from T − 1 to 0, evenly spaced in σ^(1/ρ) between σ_max and σ_min
      (Karras et al. 2022, eq. 5, ρ = 7), each rounded to the timestep with the nearest σ_t,
      so the steps are small where the noise is small. Needs ``alphas_cumprod``; timesteps
      that round to the same t are kept once, so a very large ``num_steps`` may give fewer.
    """
    if spacing not in SPACINGS:
        raise ValueError(f"spacing must be one of {SPACINGS}, not {spacing!r}")
    lowest = 1 if spacing == "uniform" else 2
    if not lowest <= num_steps <= num_timesteps:
        raise ValueError(f"num_steps must be in [{lowest}, {num_timesteps}] for {spacing!r} spacing, not {num_steps}")
    if spacing == "uniform":
        stride = num_timesteps / num_steps
        return [int(round(i * stride)) for i in reversed(range(num_steps))]
    if spacing == "linspace":
        return torch.linspace(num_timesteps - 1, 0, num_steps).round().long().tolist()
    if alphas_cumprod is None or len(alphas_cumprod) != num_timesteps:
        raise ValueError("karras spacing needs alphas_cumprod, one value per timestep")
    table = sigmas_for(alphas_cumprod, list(range(num_timesteps)))
    lo, hi = table[0].item() ** (1 / rho), table[-1].item() ** (1 / rho)
    out: list[int] = []
    for i in range(num_steps):
        t = int((table - (hi + i / (num_steps - 1) * (lo - hi)) ** rho).abs().argmin())
        if not out or t < out[-1]:
            out.append(t)
    return out


class EMA:
    """An exponential moving average of a network's parameters (and a copy of its buffers):
    ``ema.update(model)`` after each optimiser step; sample from ``ema.model``.

    With ``warmup=True`` the n-th update uses the decay min(``decay``, (1 + n)/(10 + n)), so
    that a short run does not keep a share decayⁿ of the random initial weights (after 1,500
    steps at 0.999 that share is still 22 %)."""

    def __init__(self, model: nn.Module, decay: float = 0.999, warmup: bool = False):
        if not 0 <= decay < 1:
            raise ValueError(f"decay must be in [0, 1), not {decay}")
        self.decay, self.warmup, self.updates = decay, warmup, 0
        self.model = copy.deepcopy(model).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, model: nn.Module) -> None:
        self.updates += 1
        decay = min(self.decay, (1 + self.updates) / (10 + self.updates)) if self.warmup else self.decay
        for averaged, current in zip(self.model.parameters(), model.parameters(), strict=True):
            averaged.lerp_(current.detach(), 1 - decay)
        for averaged, current in zip(self.model.buffers(), model.buffers(), strict=True):
            averaged.copy_(current)


class DenoiserTraining:
    """The training loop of :func:`train_denoiser`, resumable: ``run(k)`` takes k more steps,
    ``finish()`` returns (ema_model, loss per step). Two trainings can be interleaved in one
    process (bench/diffusion.py trains two libraries' models turn by turn) and each keeps its
    own optimiser, schedule, EMA and data order. Arguments as for :func:`train_denoiser`."""

    def __init__(self, model: nn.Module, loss_fn: Callable[..., Tensor], images: Tensor, *,
                 steps: int, batch_size: int = 128, lr: float = 1e-3, ema_decay: float = 0.999,
                 ema_warmup: bool = False, warmup: int = 100, grad_clip: float = 1.0,
                 seed: int = 0, desc: str = "denoiser", device: torch.device | str | None = None,
                 extra: tuple[Tensor, ...] = (), progress: bool = True):
        if steps < 0:
            raise ValueError(f"steps must be >= 0, not {steps}")
        self.model, self.loss_fn, self.steps, self.grad_clip, self.desc = model, loss_fn, steps, grad_clip, desc
        device = device or next(model.parameters()).device
        model.to(device).train()
        self.ema = EMA(model, ema_decay, ema_warmup)
        self.optimizer = torch.optim.Adam(model.parameters(), lr=lr)

        def lr_factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(steps - warmup, 1)))

        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor)
        self.batches = minibatches(images, *extra, batch_size=batch_size, seed=seed, device=device)
        self.losses: list[float] = []
        self.bar = tqdm(total=steps, desc=desc, leave=False, disable=not progress)

    @property
    def done(self) -> bool:
        return len(self.losses) >= self.steps

    def run(self, k: int | None = None) -> None:
        """Up to ``k`` more steps (all that are left with None)."""
        self.model.train()
        for _ in range(self.steps - len(self.losses) if k is None else min(k, self.steps - len(self.losses))):
            loss = self.loss_fn(self.model, *next(self.batches))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{self.desc}: the loss became {loss.item()} at step "
                                         f"{len(self.losses)}; lower the learning rate")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if self.grad_clip:
                nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
            self.optimizer.step()
            self.scheduler.step()
            self.ema.update(self.model)
            self.losses.append(loss.item())
            self.bar.update()
            if len(self.losses) % 10 == 0:
                self.bar.set_postfix(loss=f"{sum(self.losses[-10:]) / 10:.4f}")

    def finish(self) -> tuple[nn.Module, list[float]]:
        """(ema_model, loss per step) after the steps taken so far."""
        self.bar.close()
        self.model.eval()
        return self.ema.model.eval(), self.losses


def train_denoiser(model: nn.Module, loss_fn: Callable[..., Tensor], images: Tensor, *,
                   steps: int, batch_size: int = 128, lr: float = 1e-3, ema_decay: float = 0.999,
                   ema_warmup: bool = False, warmup: int = 100, grad_clip: float = 1.0,
                   seed: int = 0, desc: str = "denoiser", device: torch.device | str | None = None,
                   extra: tuple[Tensor, ...] = ()) -> tuple[nn.Module, list[float]]:
    """Train ``model`` on ``loss_fn(model, x0)`` with Adam (linear warm-up over ``warmup``
    steps, then a half-cosine decay to 0), gradient clipping and an EMA of the weights
    (:class:`EMA`, ``ema_warmup`` as there).

    images: (N, C, H, W), already scaled to the model's range (e.g. [−1, 1]); minibatches
    are moved to ``device`` (default: the model's). ``extra``: more tensors aligned with
    ``images`` (labels, attributes); their minibatch rows come after x0,
    ``loss_fn(model, x0, *rows)``. Returns (ema_model, loss per step)
    (:class:`DenoiserTraining` is the same loop, resumable)."""
    training = DenoiserTraining(model, loss_fn, images, steps=steps, batch_size=batch_size, lr=lr,
                                ema_decay=ema_decay, ema_warmup=ema_warmup, warmup=warmup,
                                grad_clip=grad_clip, seed=seed, desc=desc, device=device, extra=extra)
    training.run()
    return training.finish()


StepFn = Callable[[Tensor, Tensor, int, int], Tensor]


@torch.no_grad()
def sample_loop(model: Callable[..., Tensor], step: StepFn, shape: tuple[int, ...], timesteps: list[int], *,
                x_T: Tensor | None = None, generator: torch.Generator | None = None,
                device: torch.device | str | None = None, batch_size: int | None = None,
                model_kwargs: dict | None = None, progress: bool = False) -> Tensor:
    """Run the reverse process from x_T ~ N(0, I) (or the given ``x_T``) through
    ``timesteps`` (decreasing, e.g. :func:`timestep_sequence`).

    At each t, with t_prev the next entry (−1 after the last):
    ``x = step(model_output, x, t, t_prev)`` where ``model_output = model(x, t_batch,
    **model_kwargs)`` (ε̂ for an ε-prediction network). ``step`` is the update rule (a DDPM
    or DDIM step). ``shape`` is (N, C, H, W); with ``batch_size`` the N samples are drawn in
    chunks (``model_kwargs`` tensors are split along the batch too). Returns x_0 (N, C, H, W)
    on the CPU."""
    device = torch.device(device) if device is not None else next(
        (p.device for p in getattr(model, "parameters", lambda: iter(()))()), torch.device("cpu"))
    model_kwargs = model_kwargs or {}
    x_T = x_T if x_T is not None else torch.randn(shape, generator=generator)
    chunk = batch_size or len(x_T)
    outputs = []
    for start in range(0, len(x_T), chunk):
        x = x_T[start:start + chunk].to(device)
        kwargs = {k: v[start:start + chunk].to(device) if isinstance(v, Tensor) else v
                  for k, v in model_kwargs.items()}
        pairs = list(zip(timesteps, list(timesteps[1:]) + [-1], strict=True))
        for t, t_prev in tqdm(pairs, desc="sampling", leave=False, disable=not progress):
            model_output = model(x, torch.full((len(x),), t, device=device, dtype=torch.long), **kwargs)
            x = step(model_output, x, t, t_prev)
        outputs.append(x.cpu())
    return torch.cat(outputs)


class DPMSolver2M:
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): a second-order multistep update rule
    for :func:`sample_loop`, one network evaluation per step, for an ε-prediction network.

    With α_t = √ᾱ_t, σ_t = √(1 − ᾱ_t), λ_t = log(α_t/σ_t) and x̂₀ = (x_t − σ_t ε̂)/α_t, the
    step from t to s (h = λ_s − λ_t > 0) is the exact solution of the probability-flow ODE
    for a data prediction D that is linear in λ:

        x_s = (σ_s/σ_t) x_t − α_s (e^{−h} − 1) D,   D = (1 + 1/(2r)) x̂₀ − 1/(2r) x̂₀',

    where x̂₀' is the previous step's prediction and r = h'/h the ratio of step sizes
    (r → ∞ or the first step: D = x̂₀, which is DDIM with η = 0). The last step (to
    t_prev = −1, σ = 0) returns D = x̂₀ (the "lower-order final step"). The instance keeps
    the previous prediction between calls and forgets it after the last step, so one
    instance serves any number of :func:`sample_loop` chunks, one after the other.

    ``clip``: clamp x̂₀ to [−1, 1] (as the DDIM step of topic 09 does)."""

    def __init__(self, alphas_cumprod: Tensor, clip: bool = True):
        self.alphas_cumprod, self.clip = alphas_cumprod, clip
        self._previous: tuple[Tensor, float] | None = None      # (x̂₀, h) of the last step

    def _level(self, t: int) -> tuple[float, float]:
        """(α_t, σ_t) as Python floats (float64); t = −1 is the data (α = 1, σ = 0)."""
        if t < 0:
            return 1.0, 0.0
        abar = float(self.alphas_cumprod[t])
        return math.sqrt(abar), math.sqrt(1 - abar)

    def __call__(self, eps: Tensor, x_t: Tensor, t: int, t_prev: int) -> Tensor:
        alpha_t, sigma_t = self._level(t)
        x0 = (x_t - sigma_t * eps) / alpha_t
        if self.clip:
            x0 = x0.clamp(-1, 1)
        if t_prev < 0:
            self._previous = None
            return x0
        alpha_s, sigma_s = self._level(t_prev)
        h = math.log(alpha_s / sigma_s) - math.log(alpha_t / sigma_t)
        d = x0
        if self._previous is not None:
            x0_before, h_before = self._previous
            half_inv_r = h / (2 * h_before)
            d = (1 + half_inv_r) * x0 - half_inv_r * x0_before
        self._previous = (x0, h)
        return (sigma_s / sigma_t) * x_t - alpha_s * math.expm1(-h) * d


@torch.no_grad()
def encode_loop(model: Callable[..., Tensor], step: StepFn, x0: Tensor, timesteps: list[int], *,
                model_kwargs: dict | None = None) -> Tensor:
    """The reverse of :func:`sample_loop` for a deterministic update: walk x_0 up through
    ``timesteps`` (given decreasing, as for sampling; visited increasing). From the level
    t_prev (−1: the data) to the next level t: ``x = step(model(x, t), x, t_prev, t)``.
    x0: (N, C, H, W) on the model's device. Returns x at timesteps[0], e.g. x_T."""
    model_kwargs = model_kwargs or {}
    up = list(reversed(timesteps))
    x = x0
    for t_prev, t in zip([-1] + up[:-1], up, strict=True):
        x = step(model(x, torch.full((len(x),), t, device=x.device, dtype=torch.long), **model_kwargs),
                 x, t_prev, t)
    return x


def resolution_references(n: int = 1000, seed: int = 0) -> dict[str, float]:
    """The classifier Fréchet distance (:func:`genlab.metrics.classifier_fd`: Fashion-MNIST's
    shipped classifier at 28 px, against the test split) of ``n`` real training images as they
    are and brought down to 14 px (2×2 average) and back up, by nearest neighbour and
    bilinearly: the floor that any model generating at 14 px stays above. Printed beside a
    model's FD at equal ``n`` (the estimate is biased upwards for small n)."""

    images = fashion_mnist("train", verbose=False)[0]
    pick = images[torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:n]]
    low = F.avg_pool2d(pick, 2)
    return {"real training images, 28 px": classifier_fd(pick),
            "real, 14 px and back by nearest neighbour": classifier_fd(F.interpolate(low, scale_factor=2)),
            "real, 14 px and back bilinearly": classifier_fd(
                F.interpolate(low, scale_factor=2, mode="bilinear").clamp(0, 1))}
