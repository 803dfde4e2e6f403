"""The course's denoising U-Net, shared by topics 09–12 (DDPM/DDIM, guidance, textual
inversion, ControlNet). Students write the diffusion algorithms, not this backbone.

    ε̂ = UNet(x_t, t, y=None, cond=None, residuals=None)

- ``t``: integer timesteps (B,) in [0, T), embedded with sinusoids and an MLP
  (Ho et al., 2020, after the Transformer's positional encoding);
- ``y``: class labels (B,) for class-conditional models; the extra index ``num_classes``
  means "no label", which classifier-free guidance trains by dropping labels;
- ``cond``: a conditioning vector (B, cond_dim), e.g. a pooled text embedding;
- ``residuals``: additive residuals for every skip connection and the middle block, in the
  order of :attr:`UNet.skip_channels` then the middle: the entry point of ControlNet, whose
  trainable copy of :meth:`UNet.encode` produces them through zero convolutions.

The time, label and vector embeddings are summed into one embedding ``emb`` that every
residual block adds to its features (a per-channel shift). No attention: at 16–32 px on a
CPU it costs more than it gives.
"""
from __future__ import annotations

import copy
import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def timestep_embedding(t: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Sinusoidal embedding (B, dim) of timesteps t (B,): [cos(t·ω_k), sin(t·ω_k)] with
    ω_k = max_period^(−k / (dim/2)), k = 0 … dim/2 − 1."""
    if dim % 2:
        raise ValueError(f"dim must be even, not {dim}")
    half = dim // 2
    omega = torch.exp(-math.log(max_period) * torch.arange(half, device=t.device) / half)
    angles = t.float()[:, None] * omega[None]                                  # (B, half)
    return torch.cat([angles.cos(), angles.sin()], dim=1)


def _groups(channels: int) -> int:
    return math.gcd(channels, 8)


class ResBlock(nn.Module):
    """GroupNorm → SiLU → conv, plus the embedding as a per-channel shift, GroupNorm → SiLU →
    dropout → conv; a 1×1 conv on the skip path when the channel count changes.

    With ``film=True`` the embedding sets a per-channel scale *and* shift of the second
    GroupNorm's output, h ← norm(h)·(1 + γ(emb)) + β(emb) (FiLM, Perez et al. 2018; the
    "scale-shift norm" of Dhariwal & Nichol 2021): a condition can switch features on and
    off, not only move them."""

    def __init__(self, in_channels: int, out_channels: int, emb_dim: int, dropout: float = 0.0,
                 film: bool = False):
        super().__init__()
        self.film = film
        self.norm1 = nn.GroupNorm(_groups(in_channels), in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * out_channels if film else out_channels)
        self.norm2 = nn.GroupNorm(_groups(out_channels), out_channels)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = (nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels
                     else nn.Identity())

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:                      # x (B, C, H, W)
        h = self.conv1(F.silu(self.norm1(x)))
        e = self.emb(F.silu(emb))[:, :, None, None]
        if self.film:
            scale, shift = e.chunk(2, dim=1)
            h = self.norm2(h) * (1 + scale) + shift
        else:
            h = self.norm2(h + e)
        h = self.conv2(self.dropout(F.silu(h)))
        return h + self.skip(x)


class CoordStem(nn.Module):
    """The U-Net's first convolution with two extra input channels, the pixel's x and y in
    [−1, 1] (CoordConv, Liu et al. 2018). A convolution is translation-equivariant: without
    them a global condition ("in the top left") can only find the image's corners through the
    zero padding. (B, in_channels, H, W) → (B, out_channels, H, W)."""

    def __init__(self, in_channels: int, out_channels: int):
        super().__init__()
        self.conv = nn.Conv2d(in_channels + 2, out_channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        b, _, h, w = x.shape
        ys = torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype)
        xs = torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype)
        grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy")).expand(b, 2, h, w)
        return self.conv(torch.cat([x, grid], dim=1))


class UNet(nn.Module):
    """A small attention-free U-Net for 16–32 px images (see the module docstring).

    ``channels`` gives the width of each resolution level; the image side must be divisible
    by ``patch``·2^(len(channels) − 1). With ``patch`` = p > 1 the stem folds each p×p block
    of pixels into p² channels (space-to-depth) and the head unfolds its p²·out_channels
    back: the network still maps full-resolution images to full-resolution outputs, and its
    first level works at 1/p of the side (at 28 px and p = 2 a quarter of the cost of a
    level at 28 px; the patch size of ViT and DiT). With the defaults (32, 64, 128) it has
    2.5 M parameters, with (16, 32, 64) 0.68 M.
    """

    def __init__(self, in_channels: int = 1, out_channels: int | None = None,
                 channels: tuple[int, ...] = (32, 64, 128), blocks_per_level: int = 1,
                 emb_dim: int = 128, num_classes: int | None = None, cond_dim: int | None = None,
                 dropout: float = 0.0, film: bool = False, coords: bool = False, patch: int = 1):
        super().__init__()
        out_channels = out_channels or in_channels
        if patch < 1:
            raise ValueError(f"patch must be >= 1, not {patch}")
        self.config = dict(in_channels=in_channels, out_channels=out_channels,
                           channels=tuple(channels), blocks_per_level=blocks_per_level,
                           emb_dim=emb_dim, num_classes=num_classes, cond_dim=cond_dim,
                           dropout=dropout)
        if film or coords:                     # older checkpoints' configs have neither key
            self.config.update(film=film, coords=coords)
        if patch > 1:
            self.config.update(patch=patch)
        self.patch = patch
        self.num_classes, self.cond_dim, self.emb_dim = num_classes, cond_dim, emb_dim
        self.time_mlp = nn.Sequential(nn.Linear(emb_dim, emb_dim), nn.SiLU(),
                                      nn.Linear(emb_dim, emb_dim))
        # index num_classes is the "no label" token of classifier-free guidance
        self.label_emb = nn.Embedding(num_classes + 1, emb_dim) if num_classes else None
        self.cond_proj = nn.Linear(cond_dim, emb_dim) if cond_dim else None

        stem_in = in_channels * patch * patch
        self.stem = (CoordStem(stem_in, channels[0]) if coords
                     else nn.Conv2d(stem_in, channels[0], 3, padding=1))
        if patch > 1:         # space-to-depth: each patch x patch block of pixels becomes one position
            self.stem = nn.Sequential(nn.PixelUnshuffle(patch), self.stem)

        def block(cin: int, cout: int) -> ResBlock:
            return ResBlock(cin, cout, emb_dim, dropout, film)

        self.down = nn.ModuleList()
        self.skip_channels: list[int] = [channels[0]]
        c = channels[0]
        for level, width in enumerate(channels):
            for _ in range(blocks_per_level):
                self.down.append(block(c, width))
                c = width
                self.skip_channels.append(c)
            if level < len(channels) - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))     # downsample
                self.skip_channels.append(c)
        self.middle = nn.ModuleList([block(c, c), block(c, c)])
        self.middle_channels = c
        self.up = nn.ModuleList()
        skips = list(self.skip_channels)
        for level, width in reversed(list(enumerate(channels))):
            for _ in range(blocks_per_level + 1):
                self.up.append(block(c + skips.pop(), width))
                c = width
            if level > 0:
                self.up.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                             nn.Conv2d(c, c, 3, padding=1)))
        self.head = nn.Sequential(nn.GroupNorm(_groups(c), c), nn.SiLU(),
                                  nn.Conv2d(c, out_channels * patch * patch, 3, padding=1))
        if patch > 1:         # and back: each position predicts its patch x patch block of pixels
            self.head.append(nn.PixelShuffle(patch))

    # --- extension points --------------------------------------------------------------

    def embed(self, t: Tensor, y: Tensor | None = None, cond: Tensor | None = None) -> Tensor:
        """The summed embedding (B, emb_dim) of timesteps, labels and a conditioning vector."""
        emb = self.time_mlp(timestep_embedding(t, self.emb_dim))
        if y is not None:
            if self.label_emb is None:
                raise ValueError("this UNet has no classes (num_classes=None) but got labels y")
            emb = emb + self.label_emb(y)
        elif self.label_emb is not None:
            emb = emb + self.label_emb(torch.full_like(t, self.num_classes, dtype=torch.long))
        if cond is not None:
            if self.cond_proj is None:
                raise ValueError("this UNet has no conditioning vector (cond_dim=None) but got cond")
            emb = emb + self.cond_proj(cond)
        return emb

    def encode(self, x: Tensor, emb: Tensor) -> tuple[Tensor, list[Tensor]]:
        """The down path and the middle: returns (h, skips), skips in the order of
        :attr:`skip_channels`. ControlNet copies this half of the network."""
        h = self.stem(x)
        skips = [h]
        for module in self.down:
            h = module(h, emb) if isinstance(module, ResBlock) else module(h)
            skips.append(h)
        for block in self.middle:
            h = block(h, emb)
        return h, skips

    def decode(self, h: Tensor, skips: list[Tensor], emb: Tensor) -> Tensor:
        """The up path: concatenates the skips (last first) and predicts the output."""
        skips = list(skips)
        for module in self.up:
            if isinstance(module, ResBlock):
                h = module(torch.cat([h, skips.pop()], dim=1), emb)
            else:
                h = module(h)
        return self.head(h)

    def encoder_copy(self) -> nn.ModuleDict:
        """A deep copy of the encoder's modules (stem, down, middle, embeddings), e.g. the
        trainable copy of ControlNet. Call its pieces in the order :meth:`encode` does."""
        parts = {"time_mlp": self.time_mlp, "stem": self.stem, "down": self.down,
                 "middle": self.middle}
        if self.label_emb is not None:
            parts["label_emb"] = self.label_emb
        if self.cond_proj is not None:
            parts["cond_proj"] = self.cond_proj
        return copy.deepcopy(nn.ModuleDict(parts))

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None = None, cond: Tensor | None = None,
                residuals: list[Tensor] | None = None) -> Tensor:
        """Predict (B, out_channels, H, W) from x (B, in_channels, H, W) and t (B,)."""
        side = self.patch * 2 ** (len(self.config["channels"]) - 1)
        if x.shape[-1] % side or x.shape[-2] % side:
            raise ValueError(f"image sides must be divisible by {side}, got {tuple(x.shape[-2:])}")
        if t.ndim == 0:
            t = t.expand(len(x))
        emb = self.embed(t, y, cond)
        h, skips = self.encode(x, emb)
        if residuals is not None:
            if len(residuals) != len(skips) + 1:
                raise ValueError(f"expected {len(skips) + 1} residuals (one per skip, then the "
                                 f"middle), got {len(residuals)}")
            skips = [s + r for s, r in zip(skips, residuals[:-1], strict=True)]
            h = h + residuals[-1]
        return self.decode(h, skips, emb)


class NoisyClassifier(nn.Module):
    """A time-conditioned classifier p(y | x_t, t) for classifier guidance: the U-Net's
    encoder, global average pooling and a linear head. ``forward(x, t)`` → logits (B, K)."""

    def __init__(self, in_channels: int = 1, num_classes: int = 10,
                 channels: tuple[int, ...] = (32, 64, 128), emb_dim: int = 128):
        super().__init__()
        self.config = dict(in_channels=in_channels, num_classes=num_classes,
                           channels=tuple(channels), emb_dim=emb_dim)
        self.backbone = UNet(in_channels, in_channels, channels, 1, emb_dim)
        del self.backbone.up, self.backbone.head                              # encoder only
        self.head = nn.Sequential(nn.GroupNorm(_groups(channels[-1]), channels[-1]), nn.SiLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                                  nn.Linear(channels[-1], num_classes))

    def forward(self, x: Tensor, t: Tensor) -> Tensor:
        if t.ndim == 0:
            t = t.expand(len(x))
        h, _ = self.backbone.encode(x, self.backbone.embed(t))
        return self.head(h)
