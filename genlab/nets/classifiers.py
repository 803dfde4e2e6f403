"""Small convolutional classifiers: the course's evaluation networks.

Their penultimate features stand in for Inception features (classifier Fréchet distance,
KID, precision/recall) and their predictions grade conditional samples. Trained copies are
shipped in data/checkpoints and loaded with :func:`genlab.zoo.load`.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn


class ConvClassifier(nn.Module):
    """Three conv blocks (conv-BN-ReLU, 2× max-pool) → a ``feature_dim`` embedding → heads.

    Input (B, in_channels, S, S) in [0, 1] with S divisible by 8 after padding (28 → 3×3 and
    32 → 4×4 work). ``heads`` maps a head name to its number of classes, e.g.
    ``{"label": 10}`` or ``{"shape": 8, "colour": 9}``. ``forward`` returns the logits of the
    first head (B, C); :meth:`logits` returns all heads; :meth:`features` returns the
    (B, feature_dim) embedding used by the metrics.
    """

    def __init__(self, in_channels: int = 1, heads: dict[str, int] | None = None,
                 width: int = 32, feature_dim: int = 128, image_size: int = 28):
        super().__init__()
        heads = heads or {"label": 10}
        self.config = dict(in_channels=in_channels, heads=dict(heads), width=width,
                           feature_dim=feature_dim, image_size=image_size)
        layers, c = [], in_channels
        for c_out in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(c, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                       nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            c = c_out
        self.body = nn.Sequential(*layers)
        side = image_size // 8
        self.embed = nn.Sequential(nn.Flatten(), nn.Linear(c * side * side, feature_dim),
                                   nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(0.3)
        self.heads = nn.ModuleDict({name: nn.Linear(feature_dim, n) for name, n in heads.items()})

    def features(self, x: Tensor) -> Tensor:
        """Penultimate features (B, feature_dim), after the ReLU."""
        return self.embed(self.body(x))

    def logits(self, x: Tensor) -> dict[str, Tensor]:
        h = self.dropout(self.features(x))
        return {name: head(h) for name, head in self.heads.items()}

    def forward(self, x: Tensor) -> Tensor:
        return next(iter(self.logits(x).values()))

    @torch.no_grad()
    def predict(self, x: Tensor, head: str | None = None, batch_size: int = 1000) -> Tensor:
        """Predicted class indices (B,) of ``head`` (default: the first), in batches."""
        was_training = self.training
        self.eval()
        name = head or next(iter(self.heads))
        device = next(self.parameters()).device
        out = torch.cat([self.logits(x[i:i + batch_size].to(device))[name].argmax(1).cpu()
                         for i in range(0, len(x), batch_size)])
        self.train(was_training)
        return out
