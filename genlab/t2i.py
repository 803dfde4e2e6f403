"""The course's small text-to-image diffusion model, the base of topics 11 and 12.

Stable Diffusion cannot be trained, downloaded or even run comfortably on the course's
CPUs, so topics 11 (textual inversion) and 12 (ControlNet) work on a model that can:

- **data**: the procedural coloured shapes (:func:`genlab.data.shapes`) at 32 px with
  compositional captions, "a small red circle in the top left on a grey background";
- **text encoder**: a word-level :class:`Tokenizer` (fixed vocabulary, a ``<start>`` token
  first) and :class:`TextEncoder` (token + position embeddings, a 2-layer pre-norm
  Transformer, mean pooling over the real tokens) → one vector per caption, trained first
  as the text tower of a miniature CLIP (:func:`pretrain_text_encoder`) and then frozen
  while the U-Net learns to denoise, as Stable Diffusion freezes its CLIP text encoder;
- **denoiser**: the course's :class:`genlab.nets.UNet` with that vector as ``cond``
  (summed with the time embedding, then a FiLM scale and shift in every residual block),
  a coordinate stem (x, y channels) so that "in the top left" can find the top left, and
  **v-prediction** (the network predicts v = √ᾱ ε − √(1−ᾱ) x₀; ``model(...)`` still
  returns ε̂, so every sampler and loss of topics 09–12 applies); linear β, T = 1000;
- **classifier-free guidance** by caption dropout: 10 % of training captions are empty;
- **attribute dropout**: each part of a caption (size, colour, shape, position,
  background) is left out with probability 0.3, so partial prompts ("a red shape") work
  and the model learns what each word controls.

**The held-out concepts.** The word ``star`` never appears in a training caption: star
images *are* in the training set, but their captions always say "shape" where the shape
word would be. The model can draw stars, it has no word for them: textual inversion's
setting (a concept the model can produce but nobody can ask for). ``heart`` images never
appear at all: the control case, a concept outside the model's reach.

The model is a shared asset, trained by a recipe (no student writes it)::

    python -m genlab.zoo train shapes-t2i --profile cpu --seed 0 --write

:func:`sample` is a deterministic second-order sampler (Heun's method on the probability
flow ODE in the σ-parametrisation of Karras et al., 2022), with classifier-free guidance
and optional ControlNet residuals. Topic 09 asks students for DDPM and DDIM steps; this is
neither, and topics 11–12 use it as plumbing.

**Why v, FiLM and coordinates.** The first shipped model (ε-prediction, shift-only
conditioning, no coordinates, 5,000 steps) drew clean shapes that ignored their captions:
shape 0.20, colour 0.36, background 0.19, position 0.21 on full captions. In x₀ terms the
ε-loss weighs a timestep by its SNR, which is ≈ 0 at the high noise levels where a sample's
layout and colours are decided, so the caption never had to explain them; at t = 800 its
x̂₀ error with the caption was 0.50, as without. The v-loss weighs every timestep by
SNR + 1 ≥ 1. After 2,000 steps with v, FiLM and coordinates, x̂₀ at t = 800 errs by 0.03
with the caption (0.12 without). That model (5,000 steps) read, on 300 full captions:
shape 0.20, colour 0.94, background 1.00, size 0.97, position 1.00.

**Shapes by name: the text encoder was the first bottleneck, the U-Net is the next.** When
the text encoder learnt from the denoising loss alone (the previous shipped model), the
shape word hardly moved the caption vector: changing it moved the vector by 0.15 of its
norm, against 0.65 for the colour, 0.52 for the position and 1.08 for the background
(:func:`caption_separation`), and the shape was read right in 20 % of full captions, chance
being 1 in 6. The denoising loss rewards what fills many pixels first, and two shapes of
one colour differ in a few outline pixels. Trained contrastively, a caption has to pick
its images out of 256, and the shape word separates them as well as any other: the
shipped encoder moves by 0.72 for the shape, 0.71 colour, 0.63 size, 0.67 position, 0.66
background. On 300 full captions the shipped model reads: shape 0.28, colour 0.97,
background 0.99, size 0.99, position 1.00 (all five 0.25; previous model 0.20, 0.94, 1.00,
0.97, 1.00, all 0.18). The shape is still mostly wrong: the samples are rounded blobs of
the right colour, size and place, a little more pointed for "triangle" or "diamond". The
U-Net, 16 channels at full resolution, has not learnt the outlines in 5,000 steps.
ControlNet (topic 12) supplies the outline the caption cannot (shape right 71 % at control
scale 1). Textual inversion (topic 11) gained most: the encoder now maps a learnt row to a
vector the U-Net obeys, and "a S*" samples are stars 35–79 % of the time (ci, seeds 0–4)
against 4–17 % for "a shape"; on the previous model 8–56 % against 25–38 %.

Sampler steps matter for the texture, not for the shape: at 12 steps the background keeps
a faint speckle (the last step spans σ ≈ 0.3 → 0), gone at 60 steps, where the shape is
read right about as often.
"""
from __future__ import annotations

import math
import re
from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from tqdm.auto import tqdm

from genlab import zoo
from genlab.data.procedural import BACKGROUNDS, COLOURS, POSITIONS, SHAPES, SIZES
from genlab.diffusion import beta_schedule, schedule_tables, sigmas_for, timestep_sequence, train_denoiser
from genlab.nets.unet import UNet

PAD, START = "<pad>", "<start>"
HIDDEN_WORD = "star"        # drawn in training, never named: the concept of textual inversion
UNSEEN_SHAPE = "heart"      # never drawn in training: out of the model's reach
GENERIC_SHAPE_WORD = "shape"
TRAIN_SHAPES = tuple(s for s in SHAPES if s != UNSEEN_SHAPE)
CAPTION_PARTS = ("size", "colour", "shape", "position", "background")   # in caption order


def caption_words() -> list[str]:
    """The base vocabulary: every word of a training caption, in a fixed order."""
    words = [PAD, START, "a", "in", "the", "on", "background", GENERIC_SHAPE_WORD]
    names = (list(SIZES) + list(COLOURS) + [s for s in TRAIN_SHAPES if s != HIDDEN_WORD]
             + list(POSITIONS) + list(BACKGROUNDS))
    for name in names:
        for word in name.split():
            if word not in words:
                words.append(word)
    return words


class Tokenizer:
    """Word-level tokenizer: lower-case, split on white space, ``<start>`` first, ``<pad>``
    after. Unknown words raise (the base model never saw them); :meth:`add_token` extends
    the vocabulary, e.g. with a pseudo-word "S*" for textual inversion."""

    def __init__(self, words: list[str], max_length: int = 16):
        if words[:2] != [PAD, START]:
            raise ValueError(f"the vocabulary must start with {PAD!r}, {START!r}")
        if len(set(words)) != len(words):
            raise ValueError("the vocabulary has repeated words")
        self.words = list(words)
        self.index = {w: i for i, w in enumerate(self.words)}
        self.max_length = max_length

    def __len__(self) -> int:
        return len(self.words)

    @property
    def pad_id(self) -> int:
        return 0

    def add_token(self, word: str) -> int:
        """Add ``word`` (no white space) to the vocabulary and return its id; a word already
        there keeps its id."""
        if not word or re.search(r"\s", word):
            raise ValueError(f"a token is one word without spaces, not {word!r}")
        word = word.lower()
        if word not in self.index:
            self.index[word] = len(self.words)
            self.words.append(word)
        return self.index[word]

    def split(self, caption: str) -> list[str]:
        return caption.lower().split()

    def encode(self, captions: list[str] | str) -> Tensor:
        """Token ids, int64 (B, max_length): ``<start>``, the words, then ``<pad>``."""
        if isinstance(captions, str):
            captions = [captions]
        ids = torch.zeros(len(captions), self.max_length, dtype=torch.long)
        for row, caption in enumerate(captions):
            words = self.split(caption)
            unknown = [w for w in words if w not in self.index]
            if unknown:
                raise ValueError(f"{', '.join(map(repr, unknown))} not in the vocabulary of "
                                 f"{len(self)} words (the model never read it); add a new "
                                 f"word with Tokenizer.add_token")
            if len(words) + 1 > self.max_length:
                raise ValueError(f"caption {caption!r} has {len(words)} words; at most "
                                 f"{self.max_length - 1} fit")
            ids[row, 0] = self.index[START]
            ids[row, 1:len(words) + 1] = torch.tensor([self.index[w] for w in words])
        return ids

    def decode(self, ids: Tensor) -> list[str]:
        return [" ".join(self.words[i] for i in row.tolist() if i > 1) for row in ids]


class TextEncoder(nn.Module):
    """Token embeddings + learned positions → pre-norm Transformer → mean over the real
    (non-pad) tokens → LayerNorm → linear: one vector (B, out_dim) per caption.

    :meth:`from_embeddings` runs the encoder on given token *embeddings*, which is how
    textual inversion feeds a learned vector in place of a word."""

    def __init__(self, vocab_size: int, dim: int = 64, layers: int = 2, heads: int = 4,
                 max_length: int = 16, out_dim: int = 128):
        super().__init__()
        self.config = dict(vocab_size=vocab_size, dim=dim, layers=layers, heads=heads,
                           max_length=max_length, out_dim=out_dim)
        self.token_embedding = nn.Embedding(vocab_size, dim)
        self.position = nn.Parameter(0.02 * torch.randn(max_length, dim))
        layer = nn.TransformerEncoderLayer(dim, heads, 2 * dim, dropout=0.0, batch_first=True,
                                           norm_first=True, activation="gelu")
        self.transformer = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(dim)
        self.out = nn.Linear(dim, out_dim)

    def from_embeddings(self, embeddings: Tensor, ids: Tensor) -> Tensor:
        """embeddings (B, L, dim) of the tokens ``ids`` (B, L; only where ids is pad
        matters) → (B, out_dim)."""
        pad = ids == 0
        h = embeddings + self.position[: ids.shape[1]]
        h = self.transformer(h, src_key_padding_mask=pad)
        keep = (~pad).unsqueeze(-1).float()
        pooled = (h * keep).sum(1) / keep.sum(1).clamp(min=1)
        return self.out(self.norm(pooled))

    def forward(self, ids: Tensor) -> Tensor:
        """ids (B, L) int64 → (B, out_dim)."""
        if ids.max() >= self.token_embedding.num_embeddings:
            raise ValueError(f"token id {ids.max().item()} but the embedding table has "
                             f"{self.token_embedding.num_embeddings} rows; grow it first")
        return self.from_embeddings(self.token_embedding(ids), ids)


class TextToImage(nn.Module):
    """Caption → image diffusion model: ``model.text`` (:class:`TextEncoder`),
    ``model.unet`` (:class:`genlab.nets.UNet`, 3 → 3 channels at 32 px) and
    ``model.tokenizer``; the noise schedule as buffers ``betas``, ``alphas_cumprod``.

    ``model(x_t, t, cond, residuals=None)`` → ε̂, whatever the network predicts
    (``prediction="v"``: ε̂ = √ᾱ v̂ + √(1−ᾱ) x_t); ``model.encode_text(captions)`` → cond;
    ``model.training_loss(x0, cond)`` → the recipe's objective. Images live in [−1, 1]."""

    def __init__(self, words: list[str] | None = None, image_size: int = 32,
                 channels: tuple[int, ...] = (16, 32, 64), text_dim: int = 64,
                 cond_dim: int = 128, num_timesteps: int = 1000, max_length: int = 16,
                 prediction: str = "epsilon", film: bool = False, coords: bool = False):
        super().__init__()
        if prediction not in ("epsilon", "v"):
            raise ValueError(f"prediction must be 'epsilon' or 'v', not {prediction!r}")
        words = list(words or caption_words())
        self._config = dict(image_size=image_size, channels=tuple(channels), text_dim=text_dim,
                            cond_dim=cond_dim, num_timesteps=num_timesteps, max_length=max_length)
        if prediction != "epsilon" or film or coords:   # older checkpoints have none of these
            self._config.update(prediction=prediction, film=film, coords=coords)
        self.image_size, self.num_timesteps, self.prediction = image_size, num_timesteps, prediction
        self.tokenizer = Tokenizer(words, max_length)
        self.text = TextEncoder(len(words), text_dim, max_length=max_length, out_dim=cond_dim)
        self.unet = UNet(3, 3, tuple(channels), emb_dim=128, cond_dim=cond_dim, film=film,
                         coords=coords)
        _, _, alphas_cumprod = schedule_tables(beta_schedule("linear", num_timesteps))
        self.register_buffer("alphas_cumprod", alphas_cumprod, persistent=False)

    @property
    def config(self) -> dict:
        """The constructor's arguments, with the tokenizer's words *now*: a model saved after
        :meth:`Tokenizer.add_token` (and a grown embedding table) loads with its new words."""
        return dict(words=list(self.tokenizer.words), **self._config)

    @property
    def device(self) -> torch.device:
        return self.alphas_cumprod.device

    def encode_text(self, captions: list[str] | str) -> Tensor:
        """Captions → conditioning vectors (B, cond_dim) on the model's device."""
        return self.text(self.tokenizer.encode(captions).to(self.device))

    def training_loss(self, x0: Tensor, cond: Tensor,
                      generator: torch.Generator | None = None) -> Tensor:
        """The base model's own objective: t ~ U{0, …, T−1}, ε ~ N(0, I), x_t = √ᾱ x₀ + √(1−ᾱ) ε,
        and the MSE between the network's output and its target, ε or v = √ᾱ ε − √(1−ᾱ) x₀.

        In x₀ terms the ε-loss weighs timestep t by SNR(t) = ᾱ/(1−ᾱ), nearly 0 where the
        layout of the image is decided; the v-loss weighs it by SNR(t) + 1 ≥ 1 (Salimans &
        Ho, 2022), so the caption must explain the image at every noise level."""
        t = torch.randint(self.num_timesteps, (len(x0),), generator=generator).to(x0.device)
        noise = torch.randn(x0.shape, generator=generator).to(x0.device)
        abar = self.alphas_cumprod[t].view(-1, 1, 1, 1)
        x_t = abar.sqrt() * x0 + (1 - abar).sqrt() * noise
        target = noise if self.prediction == "epsilon" else abar.sqrt() * noise - (1 - abar).sqrt() * x0
        return F.mse_loss(self.unet(x_t, t, cond=cond), target)

    def forward(self, x: Tensor, t: Tensor, cond: Tensor,
                residuals: list[Tensor] | None = None) -> Tensor:
        """ε̂(x_t, t, cond), (B, 3, S, S), whatever the network's own output is."""
        out = self.unet(x, t, cond=cond, residuals=residuals)
        if self.prediction == "epsilon":
            return out
        abar = self.alphas_cumprod[t].view(-1, 1, 1, 1)
        return abar.sqrt() * out + (1 - abar).sqrt() * x          # ε = √ᾱ v + √(1−ᾱ) x_t


# --- captions with dropout ----------------------------------------------------------------

def training_caption(attrs: dict[str, int], keep: dict[str, bool]) -> str:
    """The caption of one training image with the parts in ``keep`` (the shape word becomes
    "shape" where it is dropped or is the hidden word), e.g. "a red shape on a grey
    background"."""
    shape = SHAPES[attrs["shape"]]
    words = ["a"]
    if keep["size"]:
        words.append(list(SIZES)[attrs["size"]])
    if keep["colour"]:
        words.append(list(COLOURS)[attrs["colour"]])
    words.append(shape if keep["shape"] and shape != HIDDEN_WORD else GENERIC_SHAPE_WORD)
    if keep["position"]:
        words += ["in", "the", list(POSITIONS)[attrs["position"]]]
    if keep["background"]:
        words += ["on", "a", list(BACKGROUNDS)[attrs["background"]], "background"]
    return " ".join(words)


def random_captions(attributes: dict[str, Tensor], g: torch.Generator, *,
                    p_drop_part: float = 0.3, p_uncond: float = 0.1) -> list[str]:
    """One caption per image: each part kept with probability 1 − ``p_drop_part``; the
    whole caption empty with probability ``p_uncond`` (classifier-free guidance)."""
    keys = CAPTION_PARTS
    n = len(attributes["shape"])
    keep = torch.rand(n, len(keys), generator=g) >= p_drop_part
    empty = torch.rand(n, generator=g) < p_uncond
    rows = zip(*(attributes[k].tolist() for k in keys), strict=True)
    return ["" if empty[i] else training_caption(dict(zip(keys, row, strict=True)),
                                                 dict(zip(keys, keep[i].tolist(), strict=True)))
            for i, row in enumerate(rows)]


# --- sampling -------------------------------------------------------------------------------

SPACINGS = ("karras", "linspace")   # genlab.diffusion.timestep_sequence's spacings from T − 1


def sampling_timesteps(alphas_cumprod: Tensor, steps: int, spacing: str = "karras") -> list[int]:
    """``steps`` decreasing timesteps from T−1 to 0 for :func:`sample`
    (:func:`genlab.diffusion.timestep_sequence`): ``"karras"`` takes small steps where the
    noise is small; ``"linspace"``, evenly spaced in t, leaves speckle on flat backgrounds."""
    if spacing not in SPACINGS:
        raise ValueError(f"spacing must be one of {SPACINGS}, not {spacing!r}")
    return timestep_sequence(len(alphas_cumprod), steps, spacing, alphas_cumprod=alphas_cumprod)


@torch.no_grad()
def sample(model: TextToImage, captions: list[str], *, steps: int = 12, guidance: float = 3.0,
           seed: int = 0, x_T: Tensor | None = None, cond: Tensor | None = None,
           control: Callable[[Tensor, Tensor, Tensor], list[Tensor]] | None = None,
           batch_size: int = 256, clip: bool = True, progress: bool = False,
           spacing: str = "karras") -> Tensor:
    """Images (N, 3, S, S) in [0, 1] on the CPU for ``captions`` (N).

    Heun's method (Karras et al. 2022, Algorithm 1, deterministic) on the probability-flow
    ODE dx/dσ = ε̂(x/√(1+σ²), t(σ)) over σ at the ``steps`` timesteps of
    :func:`sampling_timesteps` (``spacing`` "karras" or "linspace") from T−1 down to 0, then
    one Euler step to σ = 0 (2·steps − 1 network calls, each a batched conditional +
    unconditional pass when ``guidance`` ≠ 1).

    - ``guidance``: classifier-free guidance scale γ, ε̂ = ε̂(∅) + γ(ε̂(c) − ε̂(∅));
      γ = 1 is the conditional model, γ = 0 the unconditional one;
    - ``cond``: conditioning vectors (N, cond_dim) to use instead of encoding ``captions``
      (textual inversion feeds its own);
    - ``control(x_t, t, cond)`` → residuals for the U-Net's skips (ControlNet); applied to
      both halves of the guided batch; with a ``control`` all N images form one batch
      (``batch_size`` is ignored), so the callback sees the rows it was built for;
    - ``clip``: clamp the denoised estimate x̂₀ to [−1, 1] and re-derive ε̂ from it.
    """
    device = model.device
    if cond is None:
        cond = model.encode_text(captions)
    cond = cond.to(device)
    null = model.encode_text([""]).expand(len(cond), -1)
    g = torch.Generator().manual_seed(seed)
    side = model.image_size
    x_T = x_T if x_T is not None else torch.randn(len(cond), 3, side, side, generator=g)
    timesteps = sampling_timesteps(model.alphas_cumprod.cpu(), steps, spacing)
    steps = len(timesteps)
    sigmas = sigmas_for(model.alphas_cumprod.cpu(), timesteps).tolist() + [0.0]

    def eps(x_ve: Tensor, i: int, c: Tensor, u: Tensor) -> Tensor:
        sigma = sigmas[i]
        x = x_ve / math.sqrt(1 + sigma**2)
        t = torch.full((len(x),), timesteps[i], device=device, dtype=torch.long)
        if guidance == 1:
            e = model(x, t, c, control(x, t, c) if control else None)
        else:
            xx, tt, cc = torch.cat([x, x]), torch.cat([t, t]), torch.cat([c, u])
            e_c, e_u = model(xx, tt, cc, control(xx, tt, cc) if control else None).chunk(2)
            e = e_u + guidance * (e_c - e_u)
        if clip:
            x0 = (x_ve - sigma * e).clamp(-1, 1)
            e = (x_ve - x0) / sigma
        return e

    if control is not None:
        batch_size = len(cond)
    out = []
    for start in tqdm(range(0, len(cond), batch_size), desc="sampling", leave=False,
                      disable=not progress):
        c, u = cond[start:start + batch_size], null[start:start + batch_size]
        x = x_T[start:start + batch_size].to(device) * math.sqrt(1 + sigmas[0] ** 2)
        for i in range(steps):
            d = eps(x, i, c, u)
            x_next = x + (sigmas[i + 1] - sigmas[i]) * d
            if sigmas[i + 1] > 0 and i + 1 < steps:
                d_next = eps(x_next, i + 1, c, u)
                x_next = x + (sigmas[i + 1] - sigmas[i]) * (d + d_next) / 2
            x = x_next
        out.append(((x.clamp(-1, 1) + 1) / 2).cpu())
    return torch.cat(out)


# --- evaluation -----------------------------------------------------------------------------

def attribute_accuracy(images: Tensor, targets: dict[str, Tensor | int],
                       classifier: nn.Module | None = None) -> dict[str, float]:
    """Fraction of ``images`` (N, 3, 32, 32) in [0, 1] whose attributes the shipped
    shapes classifier reads as ``targets`` (name → int or (N,) indices, e.g.
    {"shape": SHAPES.index("star"), "colour": …}); one figure per given attribute."""
    if classifier is None:
        classifier = zoo.load("shapes-classifier", "cpu")
    out = {}
    for name, target in targets.items():
        pred = classifier.predict(images.cpu(), name)
        target = torch.as_tensor(target).expand(len(pred)) if not isinstance(target, Tensor) \
            else target.cpu()
        out[name] = (pred == target).float().mean().item()
    return out


def evaluate_prompts(model: TextToImage, n: int = 200, *, seed: int = 0, guidance: float = 3.0,
                     steps: int = 12, classifier: nn.Module | None = None) -> dict[str, float]:
    """Sample ``n`` full captions of random named shapes (never star or heart) and report the
    shapes classifier's agreement with each attribute, and with all five at once."""
    from genlab.data.procedural import sample_shape_attributes, shape_captions

    named = tuple(s for s in TRAIN_SHAPES if s != HIDDEN_WORD)
    attrs = sample_shape_attributes(n, seed=50_000 + seed, shapes=named)
    images = sample(model, shape_captions(attrs), steps=steps, guidance=guidance, seed=seed)
    if classifier is None:
        classifier = zoo.load("shapes-classifier", "cpu")
    keys = ("shape", "colour", "background", "size", "position")
    hits = torch.stack([classifier.predict(images, k) == attrs[k] for k in keys])
    out = {k: hits[i].float().mean().item() for i, k in enumerate(keys)}
    out["all"] = hits.all(0).float().mean().item()
    return out


@torch.no_grad()
def caption_separation(model: TextToImage, n: int = 100, seed: int = 0) -> dict[str, float]:
    """How far the caption vector moves when one word changes: for each part of
    ``CAPTION_PARTS``, the mean distance ‖c(caption) − c(caption with that part changed)‖
    over ``n`` random full captions of named shapes, divided by the mean norm ‖c‖. A part
    whose word barely moves the vector cannot steer the U-Net."""
    from genlab.data.procedural import sample_shape_attributes

    named = [SHAPES.index(s) for s in TRAIN_SHAPES if s != HIDDEN_WORD]
    sizes = {"size": len(SIZES), "colour": len(COLOURS), "position": len(POSITIONS),
             "background": len(BACKGROUNDS)}
    attrs = sample_shape_attributes(n, seed=seed, shapes=[SHAPES[i] for i in named])
    g = torch.Generator().manual_seed(seed)
    full = dict.fromkeys(CAPTION_PARTS, True)
    rows = [dict(zip(CAPTION_PARTS, r, strict=True))
            for r in zip(*(attrs[k].tolist() for k in CAPTION_PARTS), strict=True)]
    base = model.encode_text([training_caption(r, full) for r in rows])
    out = {}
    for part in CAPTION_PARTS:
        choices = named if part == "shape" else list(range(sizes[part]))
        changed = []
        for r in rows:
            others = [c for c in choices if c != r[part]]
            changed.append({**r, part: others[int(torch.randint(len(others), (), generator=g))]})
        moved = model.encode_text([training_caption(r, full) for r in changed])
        out[part] = ((moved - base).norm(dim=1).mean() / base.norm(dim=1).mean()).item()
    return out


# --- the text encoder's own training: a miniature CLIP ---------------------------------------

class ImageEncoder(nn.Module):
    """The image tower of :func:`pretrain_text_encoder`: four convolutions (32 → 4 px) and a
    linear map, (B, 3, 32, 32) in [−1, 1] → (B, out_dim). Used only to train the text
    encoder; the diffusion model never sees it."""

    def __init__(self, out_dim: int = 128, width: int = 32):
        super().__init__()
        w = width
        self.net = nn.Sequential(
            nn.Conv2d(3, w, 3, padding=1), nn.GELU(),
            nn.Conv2d(w, 2 * w, 4, 2, 1), nn.GELU(),
            nn.Conv2d(2 * w, 4 * w, 4, 2, 1), nn.GELU(),
            nn.Conv2d(4 * w, 4 * w, 4, 2, 1), nn.GELU(),
            nn.AdaptiveAvgPool2d(4), nn.Flatten(), nn.Linear(4 * w * 16, out_dim))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)



def caption_matches(attributes: Tensor, keep: Tensor) -> Tensor:
    """Which image satisfies which partial caption. ``attributes`` (B, 5) int in the order
    of ``CAPTION_PARTS``; ``keep`` (B, 5) bool, the parts caption i names. Returns
    M (B captions, B images), M[i, j] = 1.0 where image j agrees with every part caption i
    names (so M[i, i] = 1). A star's shape is never named (its caption says "shape")."""
    keep = keep.clone()
    keep[:, CAPTION_PARTS.index("shape")] &= attributes[:, CAPTION_PARTS.index("shape")] \
        != SHAPES.index(HIDDEN_WORD)
    agree = attributes.unsqueeze(0) == attributes.unsqueeze(1)                # (i, j, 5)
    return (agree | ~keep.unsqueeze(1)).all(-1).float()


def contrastive_loss(text: Tensor, image: Tensor, matches: Tensor, log_scale: Tensor) -> Tensor:
    """CLIP's symmetric cross-entropy with several right answers: the logits are
    exp(log_scale)·cos(text_i, image_j); caption i's target is uniform over the images that
    satisfy it (``matches`` row i), image j's over the captions it satisfies (column j).
    A partial caption ("a red shape") matches many images in a batch; CLIP's one-hot target
    would push those apart from their own caption."""
    logits = log_scale.exp() * F.normalize(text, dim=-1) @ F.normalize(image, dim=-1).T
    rows = -(matches / matches.sum(1, keepdim=True) * logits.log_softmax(1)).sum(1).mean()
    cols = -(matches / matches.sum(0, keepdim=True) * logits.log_softmax(0)).sum(0).mean()
    return rows + cols


def pretrain_text_encoder(model: TextToImage, images: Tensor, attributes: Tensor, *,
                          steps: int, batch_size: int = 256, lr: float = 1e-3,
                          p_drop_part: float = 0.3, seed: int = 0,
                          device: torch.device | str = "cpu") -> list[float]:
    """Train ``model.text`` contrastively against a fresh :class:`ImageEncoder` (a
    miniature CLIP; Radford et al., 2021) on partial captions of ``images`` (N, 3, 32, 32)
    in [−1, 1] with ``attributes`` (N, 5) in ``CAPTION_PARTS`` order. Returns the loss per
    step; the text encoder is trained in place and the image tower thrown away.

    Why: trained only through the denoising loss, the text encoder learns what lowers that
    loss first. The background fills the image and the colour the whole shape, but shape
    names differ in a few outline pixels, so the shape word stayed nearly invisible in the
    caption vector and the U-Net never learnt to use it (see the module's docstring).
    Contrastively, a caption must pick out its images among 256, and the shape word
    separates them as much as the colour word does. Stable Diffusion, too, conditions on a
    text encoder trained contrastively beforehand and kept frozen."""
    g = torch.Generator().manual_seed(seed)
    tower = ImageEncoder(model.text.config["out_dim"]).to(device)
    log_scale = nn.Parameter(torch.tensor(math.log(10.0), device=device))
    params = list(model.text.parameters()) + list(tower.parameters()) + [log_scale]
    optimizer = torch.optim.Adam(params, lr=lr)
    losses = []
    model.text.train()
    for _ in tqdm(range(steps), desc="text encoder (mini-CLIP)", leave=False):
        idx = torch.randint(len(images), (batch_size,), generator=g)
        attrs = attributes[idx]
        keep = torch.rand(batch_size, len(CAPTION_PARTS), generator=g) >= p_drop_part
        captions = [training_caption(dict(zip(CAPTION_PARTS, a.tolist(), strict=True)),
                                     dict(zip(CAPTION_PARTS, k.tolist(), strict=True)))
                    for a, k in zip(attrs, keep, strict=True)]
        loss = contrastive_loss(model.encode_text(captions), tower(images[idx].to(device)),
                                caption_matches(attrs, keep).to(device), log_scale)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


# --- training -------------------------------------------------------------------------------

def train_base_model(*, steps: int, n_images: int = 20_000, batch_size: int = 64,
                     lr: float = 2e-3, seed: int = 0, channels: tuple[int, ...] = (16, 32, 64),
                     prediction: str = "v", film: bool = True, coords: bool = True,
                     text_steps: int = 0,
                     device: torch.device | str = "cpu") -> tuple[TextToImage, list[float]]:
    """Train the text-to-image model on ``n_images`` seeded shapes (no hearts), each step's
    captions drawn afresh by :func:`random_captions`, with :meth:`TextToImage.training_loss`
    in :func:`genlab.diffusion.train_denoiser` (Adam, warm-up then cosine decay, EMA 0.999
    with warm-up). With ``text_steps`` > 0 the text encoder is first trained for that many
    steps by :func:`pretrain_text_encoder` and then frozen (only the U-Net learns to
    denoise); with 0 both learn together from the denoising loss alone. Returns the EMA
    model (eval mode) and the denoising loss per step."""
    from genlab.data.procedural import shapes as make_shapes

    torch.manual_seed(seed)
    data = make_shapes(n_images, seed=seed, shapes=TRAIN_SHAPES)
    keys = CAPTION_PARTS
    attributes = torch.stack([data.attributes[k] for k in keys], dim=1)           # (N, 5)
    g = torch.Generator().manual_seed(seed + 1)
    model = TextToImage(channels=channels, prediction=prediction, film=film, coords=coords)
    if text_steps > 0:
        pretrain_text_encoder(model.to(device), data.images * 2 - 1, attributes,
                              steps=text_steps, seed=seed + 2, device=device)
        model.text.requires_grad_(False)

    def loss_fn(model: TextToImage, x0: Tensor, rows: Tensor) -> Tensor:
        captions = random_captions(dict(zip(keys, rows.cpu().T, strict=True)), g)
        return model.training_loss(x0, model.encode_text(captions), generator=g)

    return train_denoiser(model.to(device), loss_fn, data.images * 2 - 1, steps=steps,
                          batch_size=batch_size, lr=lr, ema_decay=0.999, ema_warmup=True,
                          warmup=min(200, steps // 10 + 1), seed=seed, desc="shapes-t2i",
                          device=device, extra=(attributes,))


# --- the second set: OpenMoji with its own captions ------------------------------------------
#
# The shapes model's captions are compositional and exhaustive; OpenMoji's are the Unicode
# (CLDR) names, "grinning face with big eyes", "woman police officer: light skin tone": real
# language, one caption per drawing. ``emoji-t2i`` is a second TextToImage with the same
# architecture trained on them, the base of topic 12's line-art ControlNet. Its vocabulary
# holds the words that name at least two drawings: a word that names one drawing only
# ("Jersey", "iceberg") would teach the model a lookup, not a concept, and is left out of
# the prompt (so "flag: Cape Verde" is read as "flag cape").

EMOJI_MIN_COUNT = 2


def emoji_words(caption: str) -> list[str]:
    """An OpenMoji caption as lower-case words: "flag: Cape Verde" → ["flag", "cape",
    "verde"], "medium-dark skin tone" → ["medium", "dark", "skin", "tone"]."""
    return re.findall(r"[a-z0-9']+", caption.lower().replace("\u2019", "'"))


def emoji_vocabulary(captions: list[str], min_count: int = EMOJI_MIN_COUNT) -> list[str]:
    """``<pad>``, ``<start>``, then every word used by at least ``min_count`` of ``captions``,
    most frequent first (ties alphabetical)."""
    from collections import Counter

    if min_count < 1:
        raise ValueError(f"min_count must be >= 1, not {min_count}")
    counts = Counter(w for c in captions for w in emoji_words(c))
    kept = sorted((w for w, n in counts.items() if n >= min_count), key=lambda w: (-counts[w], w))
    return [PAD, START] + [w for w in kept if w not in (PAD, START)]


def emoji_prompt(caption: str, tokenizer: Tokenizer) -> str:
    """The words of an OpenMoji ``caption`` that ``tokenizer`` knows, in order (at most
    ``max_length − 1``): the prompt the model was trained with for that drawing."""
    words = [w for w in emoji_words(caption) if w in tokenizer.index]
    return " ".join(words[: tokenizer.max_length - 1])


def train_emoji_model(*, steps: int, batch_size: int = 64, lr: float = 2e-3, seed: int = 0,
                      channels: tuple[int, ...] = (16, 32, 64), p_drop_word: float = 0.15,
                      p_uncond: float = 0.1, skintones: bool = True,
                      device: torch.device | str = "cpu") -> tuple[TextToImage, list[float]]:
    """Train a :class:`TextToImage` (v-prediction, FiLM, coordinates, as ``shapes-t2i``) on the
    OpenMoji training split (with the skin-tone variants when ``skintones``: the same drawing
    in five colours, told apart only by their captions' skin-tone words). Each step's prompt is
    :func:`emoji_prompt` with each word dropped with probability ``p_drop_word``, or empty with
    probability ``p_uncond`` (classifier-free guidance). The text encoder learns jointly with
    the U-Net. Returns the EMA model and the loss per step."""
    from genlab.data.openmoji import emoji

    if not 0 <= p_drop_word < 1 or not 0 <= p_uncond < 1:
        raise ValueError("p_drop_word and p_uncond must lie in [0, 1)")
    torch.manual_seed(seed)
    data = emoji("train", skintones=skintones, verbose=False)
    model = TextToImage(emoji_vocabulary(data.captions), channels=channels, prediction="v",
                        film=True, coords=True)
    prompts = [emoji_prompt(c, model.tokenizer).split() for c in data.captions]
    g = torch.Generator().manual_seed(seed + 1)

    def loss_fn(model: TextToImage, x0: Tensor, rows: Tensor) -> Tensor:
        captions = []
        for i in rows.tolist():
            keep = torch.rand(len(prompts[i]), generator=g) >= p_drop_word
            empty = torch.rand((), generator=g) < p_uncond
            captions.append("" if empty else " ".join(w for w, k in zip(prompts[i], keep, strict=True) if k))
        return model.training_loss(x0, model.encode_text(captions), generator=g)

    return train_denoiser(model.to(device), loss_fn, data.images * 2 - 1, steps=steps,
                          batch_size=batch_size, lr=lr, ema_decay=0.999, ema_warmup=True,
                          warmup=min(200, steps // 10 + 1), seed=seed, desc="emoji-t2i",
                          device=device, extra=(torch.arange(len(data.images)),))


@torch.no_grad()
def evaluate_emoji_model(model: TextToImage, n: int = 200, *, seed: int = 0,
                         guidance: float = 3.0, steps: int = 12,
                         classifier: nn.Module | None = None) -> dict[str, float]:
    """Sample the prompts of ``n`` random training drawings (no skin-tone variants) and of
    ``n`` held-out drawings (test split: new captions made of known words) and report:

    - ``train_group`` / ``test_group``: fraction whose OpenMoji group the shipped emoji
      classifier reads as the drawing's (the classifier itself reads ``real_train_group`` /
      ``real_test_group`` of the real drawings right, the ceiling);
    - ``train_nearest``: fraction whose nearest training image (L2, pixels) has the same
      prompt, i.e. the model drew the drawing it was asked for;
    - ``null_group``: the classifier's agreement for unconditional samples (the floor)."""
    from genlab.data.openmoji import emoji

    if classifier is None:
        classifier = zoo.load("emoji-classifier", "cpu")
    train = emoji("train", verbose=False)
    test = emoji("test", verbose=False)
    g = torch.Generator().manual_seed(10_000 + seed)
    out = {}
    for name, data in (("train", train), ("test", test)):
        idx = torch.randperm(len(data.images), generator=g)[:n]
        prompts = [emoji_prompt(data.captions[i], model.tokenizer) for i in idx.tolist()]
        images = sample(model, prompts, steps=steps, guidance=guidance, seed=seed)
        labels = data.labels[idx]
        out[f"{name}_group"] = (classifier.predict(images, "group") == labels).float().mean().item()
        out[f"real_{name}_group"] = (classifier.predict(data.images[idx], "group")
                                     == labels).float().mean().item()
        if name == "train":
            all_prompts = [emoji_prompt(c, model.tokenizer) for c in train.captions]
            nearest = torch.cdist(images.flatten(1), train.images.flatten(1)).argmin(1)
            out["train_nearest"] = sum(all_prompts[j] == p for j, p in
                                       zip(nearest.tolist(), prompts, strict=True)) / len(prompts)
            null = sample(model, [""] * len(idx), steps=steps, guidance=1.0, seed=seed)
            out["null_group"] = (classifier.predict(null, "group") == labels).float().mean().item()
    return out
