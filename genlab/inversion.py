"""Provided helpers for topic 11 (textual inversion); no answers live here.

- :class:`MockTextToImage`: a stand-in for :class:`genlab.t2i.TextToImage` with the same
  attributes a loss function touches (``tokenizer``, ``text.token_embedding``,
  ``text.from_embeddings``, ``alphas_cumprod``, ``num_timesteps``, ``model(x_t, t, cond)``)
  that records what it was given, so tests can check how a loss is assembled;
- :func:`shape_fractions`: what the shapes classifier reads in a batch of samples;
- :func:`prompt_builder`: the lecture's widget, dropdowns → a caption → samples.
"""
from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn

from genlab import zoo
from genlab.data.procedural import BACKGROUNDS, COLOURS, POSITIONS, SHAPES, SIZES
from genlab.diffusion import beta_schedule, schedule_tables
from genlab.t2i import Tokenizer, caption_words


class MockText(nn.Module):
    """Token table + a transparent "encoder": cond = mean of the real tokens' embeddings,
    (B, dim). Records the last ``embeddings`` (B, L, dim) and ``ids`` (B, L) it was given."""

    def __init__(self, vocab_size: int, dim: int = 4, seed: int = 0):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, dim)
        with torch.no_grad():
            self.token_embedding.weight.copy_(
                torch.randn(vocab_size, dim, generator=torch.Generator().manual_seed(seed)))
        self.embeddings: Tensor | None = None
        self.ids: Tensor | None = None

    def from_embeddings(self, embeddings: Tensor, ids: Tensor) -> Tensor:
        self.embeddings, self.ids = embeddings, ids
        keep = (ids != 0).unsqueeze(-1).float()
        return (embeddings * keep).sum(1) / keep.sum(1).clamp(min=1)

    def forward(self, ids: Tensor) -> Tensor:
        return self.from_embeddings(self.token_embedding(ids), ids)


class MockTextToImage(nn.Module):
    """Looks like a :class:`~genlab.t2i.TextToImage` to a loss function.

    ``predict(x_t, t, cond)`` → ε̂ (B, C, H, W) is the "denoiser" (zeros by default). Every
    call records ``x_t``, ``t``, ``cond`` (detached) in :attr:`calls`; ``text`` records the
    embeddings and token ids it encoded last. Same linear β schedule as the real model."""

    def __init__(self, predict: Callable[[Tensor, Tensor, Tensor], Tensor] | None = None,
                 dim: int = 4, num_timesteps: int = 1000, seed: int = 0):
        super().__init__()
        self.tokenizer = Tokenizer(caption_words())
        self.text = MockText(len(self.tokenizer), dim, seed)
        self.num_timesteps = num_timesteps
        _, _, alphas_cumprod = schedule_tables(beta_schedule("linear", num_timesteps))
        self.register_buffer("alphas_cumprod", alphas_cumprod, persistent=False)
        self.predict = predict or (lambda x, t, cond: torch.zeros_like(x))
        self.calls: list[dict[str, Tensor]] = []

    @property
    def device(self) -> torch.device:
        return self.alphas_cumprod.device

    def encode_text(self, captions: list[str] | str) -> Tensor:
        return self.text(self.tokenizer.encode(captions).to(self.device))

    def forward(self, x: Tensor, t: Tensor, cond: Tensor, residuals=None) -> Tensor:
        self.calls.append(dict(x=x.detach(), t=t.detach(), cond=cond.detach()))
        return self.predict(x, t, cond)


@torch.no_grad()
def shape_fractions(images: Tensor, classifier: nn.Module | None = None) -> dict[str, float]:
    """Fraction of ``images`` (N, 3, 32, 32) in [0, 1] that the shapes classifier reads as
    each shape name (the eight of ``SHAPES``; they sum to 1)."""
    if classifier is None:
        classifier = zoo.load("shapes-classifier", "cpu")
    pred = classifier.predict(images.cpu(), "shape")
    counts = torch.bincount(pred, minlength=len(SHAPES)).float() / max(len(pred), 1)
    return {name: counts[i].item() for i, name in enumerate(SHAPES)}


def caption_from_parts(word: str, size: str = "", colour: str = "", position: str = "",
                       background: str = "") -> str:
    """'a {size} {colour} {word} in the {position} on a {background} background' with the
    empty parts left out (the order of the base model's training captions)."""
    words = ["a"] + [w for w in (size, colour) if w] + [word]
    if position:
        words += ["in", "the", position]
    if background:
        words += ["on", "a", background, "background"]
    return " ".join(words)


def prompt_builder(render: Callable[[str], None], words: list[str]):
    """Dropdowns (word, size, colour, position, background) that call ``render(caption)``
    with the caption they build (see :func:`caption_from_parts`)."""
    import ipywidgets as widgets

    def dropdown(name: str, options: list[str]) -> widgets.Dropdown:
        return widgets.Dropdown(options=options, value=options[0], description=name)

    controls = dict(word=dropdown("word", list(words)),
                    size=dropdown("size", [""] + list(SIZES)),
                    colour=dropdown("colour", [""] + list(COLOURS)),
                    position=dropdown("position", [""] + list(POSITIONS)),
                    background=dropdown("background", [""] + list(BACKGROUNDS)))
    return widgets.interactive(lambda **parts: render(caption_from_parts(**parts)),
                               {"manual": True, "manual_name": "sample"}, **controls)
