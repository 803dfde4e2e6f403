"""Provided parts of a small style-based generator (Karras et al., 2019) and its discriminator.

Students write the layers that make StyleGAN what it is — adaptive instance normalisation
driven by w, the noise inputs with their learned per-channel scales, truncation and style
mixing. This module holds the plumbing around them: the mapping network z → w, the learned
constant input, the upsampling convolutions, the toRGB layer and a discriminator. The
student's layers are plugged in through the factories ``make_style`` and ``make_noise``:

    make_style(w_dim, channels) → module, called as style(x (B, C, H, W), w (B, w_dim)) → (B, C, H, W)
    make_noise(channels)        → module, called as noise(x (B, C, H, W), noise (B, 1, H, W) | None)

Switching parts off gives the configurations of the paper's ablation (its Table 1):
(A) a traditional generator: ``mapping_depth=0, const_input=False, make_style=None,
make_noise=None`` (z enters at the input, pixel norm after every layer); (B) + mapping and
styles; (C) + ``const_input=True``; (D) + ``make_noise``; (E) + mixing regularisation during
training.
"""
from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F


class PixelNorm(nn.Module):
    """Normalise each sample's feature vector to unit root mean square over dim 1 (ProGAN)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:                                   # (B, C, ...)
        return x * torch.rsqrt(x.pow(2).mean(dim=1, keepdim=True) + self.eps)


class MappingNetwork(nn.Module):
    """z (B, z_dim) → w (B, w_dim): pixel norm, then ``depth`` linear layers with LeakyReLU(0.2).

    ``depth=0`` is no mapping at all: w = pixel_norm(z) (then ``w_dim`` must equal ``z_dim``).
    The linear layers are He-initialised for LeakyReLU(0.2) with zero biases, so w keeps z's
    spread at any depth (PyTorch's default init shrinks the variance ~6x a layer: at depth 8
    every z mapped to nearly the same w, std over z 5e-4). In training mode every call moves the
    running mean ``w_avg`` (w̄, used by the truncation trick) towards the batch mean:
    w̄ ← β w̄ + (1 - β) mean(w), β = ``w_avg_beta``."""

    def __init__(self, z_dim: int = 64, w_dim: int = 64, depth: int = 4, w_avg_beta: float = 0.995):
        super().__init__()
        if depth == 0 and w_dim != z_dim:
            raise ValueError(f"without mapping layers w is z: w_dim {w_dim} must equal z_dim {z_dim}")
        self.z_dim, self.w_dim, self.w_avg_beta = z_dim, w_dim, w_avg_beta
        layers: list[nn.Module] = [PixelNorm()]
        for i in range(depth):
            linear = nn.Linear(z_dim if i == 0 else w_dim, w_dim)
            nn.init.kaiming_normal_(linear.weight, a=0.2, nonlinearity="leaky_relu")
            nn.init.zeros_(linear.bias)
            layers += [linear, nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*layers)
        self.register_buffer("w_avg", torch.zeros(w_dim))

    def forward(self, z: Tensor) -> Tensor:                                   # (B, z_dim) → (B, w_dim)
        w = self.net(z)
        if self.training:
            with torch.no_grad():
                self.w_avg.lerp_(w.mean(dim=0), 1 - self.w_avg_beta)
        return w

    @torch.no_grad()
    def estimate_w_avg(self, n: int = 10_000) -> Tensor:
        """Set ``w_avg`` to the mean of w over ``n`` fresh z ~ N(0, I) and return it (w_dim,)."""
        z = torch.randn(n, self.z_dim, device=self.w_avg.device)
        self.w_avg.copy_(self.net(z).mean(dim=0))
        return self.w_avg


class SynthesisLayer(nn.Module):
    """One layer of the synthesis network: [upsample ×2] → 3×3 conv → noise → LeakyReLU →
    style (or pixel norm when there is no style). The first layer has no conv: it acts on
    the 4×4 input directly."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, *, conv: bool, upsample: bool,
                 make_style: Callable[[int, int], nn.Module] | None,
                 make_noise: Callable[[int], nn.Module] | None):
        super().__init__()
        self.upsample = upsample
        self.conv = nn.Conv2d(in_channels, out_channels, 3, padding=1) if conv else None
        self.noise = make_noise(out_channels) if make_noise is not None else None
        self.bias = nn.Parameter(torch.zeros(1, out_channels, 1, 1))
        self.style = make_style(w_dim, out_channels) if make_style is not None else None
        self.pixel_norm = PixelNorm() if make_style is None else None

    def forward(self, x: Tensor, w: Tensor, noise: Tensor | None = None) -> Tensor:
        """x (B, C_in, H, W), w (B, w_dim), noise (B, 1, H', W') or None → (B, C_out, H', W')."""
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        if self.conv is not None:
            x = self.conv(x)
        if self.noise is not None:
            x = self.noise(x, noise)
        x = F.leaky_relu(x + self.bias, 0.2)
        return self.style(x, w) if self.style is not None else self.pixel_norm(x)


class StyleGenerator(nn.Module):
    """A small style-based generator: z (B, z_dim) → images (B, out_channels, size, size).

    ``num_layers = log2(size)`` synthesis layers, each with its own style input: layer 0 acts
    on the 4×4 input (the learned constant, or a linear map of w for a traditional
    generator), layer 1 convolves at 4×4, and every later layer doubles the resolution
    (``resolution(i) = 4·2^(i-1)``: 4, 4, 8, 16, 32 for size 32). Low indices are the *coarse*
    layers (pose, shape), high indices the *fine* ones (texture, colour details). A 1×1 toRGB conv ends the network;
    its output is not squashed (the data lies in [-1, 1]).

    ``synthesis(ws)`` takes one w per layer, ws (B, num_layers, w_dim): style mixing and
    truncation act on ws between ``mapping`` and ``synthesis``."""

    def __init__(self, *, size: int = 32, channels: int = 64, z_dim: int = 64, w_dim: int = 64,
                 mapping_depth: int = 4, out_channels: int = 1, const_input: bool = True,
                 make_style: Callable[[int, int], nn.Module] | None = None,
                 make_noise: Callable[[int], nn.Module] | None = None):
        super().__init__()
        if size < 4 or size & (size - 1):
            raise ValueError(f"size must be a power of two ≥ 4, not {size}")
        self.size, self.channels, self.z_dim, self.w_dim = size, channels, z_dim, w_dim
        self.num_layers = int(math.log2(size))
        self.mapping = MappingNetwork(z_dim, w_dim, mapping_depth)
        if const_input:
            self.const = nn.Parameter(torch.randn(1, channels, 4, 4))
            self.input = None
        else:
            self.const = None
            self.input = nn.Linear(w_dim, channels * 16)
        self.layers = nn.ModuleList(
            SynthesisLayer(channels, channels, w_dim, conv=i > 0, upsample=i > 1,
                           make_style=make_style, make_noise=make_noise)
            for i in range(self.num_layers))
        self.to_rgb = nn.Conv2d(channels, out_channels, 1)

    def resolution(self, layer: int) -> int:
        """Spatial size (H = W) at which synthesis layer ``layer`` works."""
        return 4 * 2 ** max(layer - 1, 0)

    def synthesis(self, ws: Tensor, noise: list[Tensor] | None = None) -> Tensor:
        """ws (B, num_layers, w_dim) → images (B, out_channels, size, size).

        ``noise``: one (B, 1, H, W) map per layer (H = ``resolution(i)``) to fix the noise
        inputs; None lets each noise module draw its own."""
        if ws.ndim != 3 or ws.shape[1] != self.num_layers:
            raise ValueError(f"ws must be (B, {self.num_layers}, {self.w_dim}), got {tuple(ws.shape)}")
        if self.const is not None:
            x = self.const.expand(ws.shape[0], -1, -1, -1)
        else:
            x = self.input(ws[:, 0]).view(-1, self.channels, 4, 4)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], None if noise is None else noise[i])
        return self.to_rgb(x)

    def broadcast(self, w: Tensor) -> Tensor:
        """w (B, w_dim) → ws (B, num_layers, w_dim): the same w for every layer."""
        return w.unsqueeze(1).expand(-1, self.num_layers, -1)

    def forward(self, z: Tensor) -> Tensor:                                   # (B, z_dim) → images
        return self.synthesis(self.broadcast(self.mapping(z)))

    def fixed_noise(self, batch: int, seed: int = 0) -> list[Tensor]:
        """Seeded noise maps, one (batch, 1, H, W) per layer, on the generator's device."""
        g = torch.Generator().manual_seed(seed)
        device = self.to_rgb.weight.device
        return [torch.randn(batch, 1, self.resolution(i), self.resolution(i), generator=g).to(device)
                for i in range(self.num_layers)]


class StyleDiscriminator(nn.Module):
    """images (B, in_channels, size, size) in [-1, 1] → logits (B,).

    fromRGB (1×1 conv), then pairs of 3×3 convs with average-pool downsampling to 4×4, the
    minibatch standard deviation as one extra feature map (ProGAN), and a linear head."""

    def __init__(self, *, size: int = 32, channels: int = 64, in_channels: int = 1):
        super().__init__()
        if size < 4 or size & (size - 1):
            raise ValueError(f"size must be a power of two ≥ 4, not {size}")
        self.from_rgb = nn.Conv2d(in_channels, channels, 1)
        blocks: list[nn.Module] = []
        for _ in range(int(math.log2(size)) - 2):
            blocks += [nn.Conv2d(channels, channels, 3, padding=1), nn.LeakyReLU(0.2), nn.AvgPool2d(2)]
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Conv2d(channels + 1, channels, 3, padding=1), nn.LeakyReLU(0.2),
                                  nn.Flatten(), nn.Linear(channels * 16, 1))

    def forward(self, x: Tensor) -> Tensor:
        h = self.blocks(F.leaky_relu(self.from_rgb(x), 0.2))                 # (B, C, 4, 4)
        spread = h.std(dim=0, unbiased=False).mean().expand(h.shape[0], 1, 4, 4)  # minibatch std
        return self.head(torch.cat([h, spread], dim=1)).squeeze(-1)


class ConvEncoder(nn.Module):
    """A frozen feature extractor for AdaIN style transfer: the first ``stages`` conv stages
    (conv-BN-ReLU, max-pool) of a shipped :class:`~genlab.nets.ConvClassifier`, standing in
    for VGG (which would have to be downloaded).

    ``forward(x)`` takes images (B, C, S, S) in [0, 1] and returns the ReLU outputs of every
    stage, a list of (B, C_k, S / 2^k, S / 2^k); the last stage is not pooled. The last map
    is the content representation AdaIN acts on; all of them carry the style statistics."""

    def __init__(self, classifier: nn.Module, stages: int = 2):
        super().__init__()
        body = list(classifier.body)
        if len(body) < 4 * stages:
            raise ValueError(f"the classifier has fewer than {stages} conv stages")
        self.stages = nn.ModuleList(nn.Sequential(*body[4 * k:4 * k + 3]) for k in range(stages))
        self.out_channels = self.stages[-1][0].out_channels
        self.requires_grad_(False)
        self.eval()

    def train(self, mode: bool = True) -> ConvEncoder:
        return super().train(False)                     # batch norm stays in inference mode

    def forward(self, x: Tensor) -> list[Tensor]:
        features = []
        for k, stage in enumerate(self.stages):
            x = stage(x if k == 0 else F.max_pool2d(x, 2))
            features.append(x)
        return features


class ConvDecoder(nn.Module):
    """Inverts a :class:`ConvEncoder`: features (B, C, s, s) → images (B, out_channels, s·2^(stages-1), …)
    in [0, 1]. Each stage: 3×3 conv, ReLU, nearest upsampling ×2 (none after the last);
    reflection padding as in Huang & Belongie (2017) avoids border artefacts."""

    def __init__(self, in_channels: int = 64, stages: int = 2, width: int = 32, out_channels: int = 3):
        super().__init__()
        layers: list[nn.Module] = []
        c = in_channels
        for _ in range(stages - 1):
            layers += [nn.ReflectionPad2d(1), nn.Conv2d(c, width, 3), nn.ReLU(), nn.Upsample(scale_factor=2)]
            c = width
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(c, width, 3), nn.ReLU(),
                   nn.ReflectionPad2d(1), nn.Conv2d(width, out_channels, 3), nn.Sigmoid()]
        self.net = nn.Sequential(*layers)

    def forward(self, h: Tensor) -> Tensor:
        return self.net(h)
