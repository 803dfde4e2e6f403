"""Small training-loop plumbing with a tqdm progress bar (a widget in JupyterLab).

Students write the losses and the models; ``fit`` only repeats
``zero_grad → loss_fn(model, batch) → backward → step`` and records the loss.
Set ``TQDM_DISABLE=1`` to silence the progress bars.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import torch
from tqdm.auto import tqdm


def minibatches(*tensors: torch.Tensor, batch_size: int, seed: int = 0,
                device: torch.device | str | None = None) -> Iterator[tuple[torch.Tensor, ...]]:
    """Endless random minibatches of aligned tensors, reshuffled every epoch (seeded)."""
    n = len(tensors[0])
    if any(len(t) != n for t in tensors):
        raise ValueError(f"tensors have different lengths: {[len(t) for t in tensors]}")
    if not 0 < batch_size:
        raise ValueError(f"batch_size must be positive, not {batch_size}")
    g = torch.Generator().manual_seed(seed)
    while True:
        order = torch.randperm(n, generator=g)
        for start in range(0, n - min(batch_size, n) + 1, batch_size):
            idx = order[start:start + batch_size]
            yield tuple(t[idx].to(device) if device is not None else t[idx] for t in tensors)


def fit(model: torch.nn.Module, loss_fn: Callable[[torch.nn.Module, Sequence[torch.Tensor]], torch.Tensor],
        data: Sequence[torch.Tensor] | torch.Tensor, *, steps: int, lr: float = 1e-3,
        batch_size: int = 128, seed: int = 0, weight_decay: float = 0.0,
        device: torch.device | str | None = None, desc: str = "training",
        schedule: str = "constant") -> list[float]:
    """Train ``model`` with Adam for ``steps`` minibatch steps; return the loss per step.

    ``data`` is a tensor or a tuple of aligned tensors; each step calls
    ``loss_fn(model, batch)`` where ``batch`` is the tuple of minibatch tensors.
    ``schedule="cosine"`` decays the learning rate from ``lr`` to 0 along a half cosine.
    """
    if steps < 0:
        raise ValueError(f"steps must be >= 0, not {steps}")
    if schedule not in ("constant", "cosine"):
        raise ValueError(f"schedule must be 'constant' or 'cosine', not {schedule!r}")
    tensors = (data,) if isinstance(data, torch.Tensor) else tuple(data)
    device = device or next(model.parameters()).device
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    batches = minibatches(*tensors, batch_size=batch_size, seed=seed, device=device)
    scheduler = (torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, max(steps, 1))
                 if schedule == "cosine" else None)
    losses: list[float] = []
    with tqdm(total=steps, desc=desc, leave=False) as bar:
        for _ in range(steps):
            loss = loss_fn(model, next(batches))
            if not torch.isfinite(loss):
                raise FloatingPointError(f"{desc}: the loss became {loss.item()} at step "
                                         f"{len(losses)}; lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            losses.append(loss.item())
            bar.update()
            if len(losses) % 10 == 0:
                bar.set_postfix(loss=f"{sum(losses[-10:]) / 10:.4f}")
    model.eval()
    return losses
