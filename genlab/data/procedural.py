"""Procedural datasets with exact ground truth: seeded, fast, no files."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch


def closed_polygons(n: int, n_vertices: int = 96, *, seed: int = 0,
                    n_harmonics: int = 4, roughness: float = 0.25) -> torch.Tensor:
    """Random smooth closed shapes, each stored as its outline of ``n_vertices`` points.

    Each shape is a star-shaped curve r(θ) = 1 + Σ_k a_k cos(kθ) + b_k sin(kθ) (k = 2 …
    ``n_harmonics`` + 1, coefficients ~ N(0, (roughness / k)²)), sampled at equally spaced
    angles that start at a random phase, then scaled by a random factor in [0.6, 1.0] and
    shifted by up to 0.2. The starting vertex is arbitrary, so the data are naturally
    cyclic: vertex N−1 neighbours vertex 0.

    Returns float32 of shape (n, 2, n_vertices): row 0 holds x, row 1 holds y.
    """
    if n <= 0 or n_vertices < 3:
        raise ValueError(f"need n > 0 and n_vertices >= 3, got n={n}, n_vertices={n_vertices}")
    g = torch.Generator().manual_seed(seed)
    k = torch.arange(2, n_harmonics + 2, dtype=torch.float32)                  # (K,)
    a = torch.randn(n, len(k), generator=g) * roughness / k                     # (n, K)
    b = torch.randn(n, len(k), generator=g) * roughness / k
    phase = torch.rand(n, 1, generator=g) * 2 * math.pi
    theta = phase + torch.arange(n_vertices) * (2 * math.pi / n_vertices)      # (n, V)
    angles = theta.unsqueeze(-1) * k                                            # (n, V, K)
    r = 1 + (a.unsqueeze(1) * angles.cos() + b.unsqueeze(1) * angles.sin()).sum(-1)
    scale = 0.6 + 0.4 * torch.rand(n, 1, generator=g)
    shift = (torch.rand(n, 2, 1, generator=g) - 0.5) * 0.4
    xy = torch.stack([r * theta.cos(), r * theta.sin()], dim=1) * scale.unsqueeze(1)
    return (xy + shift).float()


def mixture_2d(name: str, n: int, *, seed: int = 0, std: float | None = None) -> torch.Tensor:
    """2D toy distributions used in the GAN literature. Returns float32 (n, 2).

    - ``"8-ring"``: 8 Gaussians on a circle of radius 2, std 0.02 (VEEGAN, PacGAN);
    - ``"25-grid"``: 25 Gaussians at {-4, -2, 0, 2, 4}², std 0.05;
    - ``"swiss-roll"``: scikit-learn's 2D swiss roll scaled by 1/5, noise 0.25/5.
    """
    g = torch.Generator().manual_seed(seed)
    if name in ("8-ring", "25-grid"):
        centres = mixture_centres(name)
        std = std if std is not None else (0.02 if name == "8-ring" else 0.05)
        idx = torch.randint(len(centres), (n,), generator=g)
        return centres[idx] + std * torch.randn(n, 2, generator=g)
    if name == "swiss-roll":
        t = 1.5 * math.pi * (1 + 2 * torch.rand(n, generator=g))
        xy = torch.stack([t * t.cos(), t * t.sin()], dim=1) / 5
        return xy + (std if std is not None else 0.05) * torch.randn(n, 2, generator=g)
    raise ValueError(f"unknown 2D mixture {name!r}; use '8-ring', '25-grid' or 'swiss-roll'")


def mixture_centres(name: str) -> torch.Tensor:
    """Mode centres of the ``8-ring`` (8, 2) or ``25-grid`` (25, 2) mixtures."""
    if name == "8-ring":
        angle = torch.arange(8) * (2 * math.pi / 8)
        return 2.0 * torch.stack([angle.cos(), angle.sin()], dim=1)
    if name == "25-grid":
        axis = torch.tensor([-4.0, -2.0, 0.0, 2.0, 4.0])
        return torch.cartesian_prod(axis, axis)
    raise ValueError(f"{name!r} has no discrete modes; use '8-ring' or '25-grid'")


# --- coloured shapes with captions, masks and edge maps -----------------------------------

SHAPES = ("circle", "square", "triangle", "diamond", "hexagon", "cross", "star", "heart")
COLOURS = {"red": (0.90, 0.15, 0.15), "orange": (1.00, 0.55, 0.10), "yellow": (0.98, 0.86, 0.15),
           "green": (0.20, 0.75, 0.25), "cyan": (0.20, 0.85, 0.90), "blue": (0.20, 0.35, 0.95),
           "purple": (0.60, 0.25, 0.85), "pink": (1.00, 0.55, 0.75), "white": (0.96, 0.96, 0.96)}
BACKGROUNDS = {"black": (0.05, 0.05, 0.05), "dark blue": (0.08, 0.10, 0.35),
               "dark green": (0.05, 0.28, 0.10), "grey": (0.50, 0.50, 0.50),
               "beige": (0.93, 0.87, 0.72), "white": (0.98, 0.98, 0.98)}
SIZES = {"small": 0.15, "large": 0.25}                 # radius as a fraction of the image side
POSITIONS = {"centre": (0.5, 0.5), "top left": (0.28, 0.28), "top right": (0.72, 0.28),
             "bottom left": (0.28, 0.72), "bottom right": (0.72, 0.72)}   # (x, y), y down
MIN_CONTRAST = 0.45        # minimum RGB distance between a shape's colour and its background
STYLES = ("plain", "striped")


@dataclass
class ShapeSet:
    """Coloured shapes with their exact ground truth (see :func:`shapes`)."""

    images: torch.Tensor      # (N, 3, S, S) float32 in [0, 1]
    masks: torch.Tensor       # (N, 1, S, S) float32 in {0, 1}: pixel at least half covered
    edges: torch.Tensor       # (N, 1, S, S) float32 in {0, 1}: the mask's inner boundary
    captions: list[str]       # "a small red triangle in the top left on a dark blue background"
    attributes: dict[str, torch.Tensor]   # shape, colour, background, size, position: int64 (N,)

    def __len__(self) -> int:
        return len(self.images)


def _contrasting_pairs() -> torch.Tensor:
    """All (colour, background) index pairs whose colours differ enough to be seen."""
    fg = torch.tensor(list(COLOURS.values()))
    bg = torch.tensor(list(BACKGROUNDS.values()))
    ok = torch.cdist(fg, bg) >= MIN_CONTRAST                       # (n_colours, n_backgrounds)
    return ok.nonzero()                                             # (P, 2)


def sample_shape_attributes(n: int, *, seed: int = 0,
                            shapes: tuple[str, ...] | list[str] | None = None) -> dict[str, torch.Tensor]:
    """Draw the attributes of ``n`` shapes uniformly (colour/background among visible pairs).

    ``shapes`` restricts the shape names (e.g. to hold one out). Returns int64 (n,) tensors
    keyed shape, colour, background, size, position (indices into SHAPES, COLOURS, …)."""
    if n <= 0:
        raise ValueError(f"n must be positive, not {n}")
    allowed = list(SHAPES) if shapes is None else list(shapes)
    unknown = sorted(set(allowed) - set(SHAPES))
    if unknown or not allowed:
        raise ValueError(f"unknown shape(s) {unknown or allowed}; known: {', '.join(SHAPES)}")
    g = torch.Generator().manual_seed(seed)
    shape_ids = torch.tensor([SHAPES.index(s) for s in allowed])
    pairs = _contrasting_pairs()
    pair = pairs[torch.randint(len(pairs), (n,), generator=g)]
    return {"shape": shape_ids[torch.randint(len(allowed), (n,), generator=g)],
            "colour": pair[:, 0], "background": pair[:, 1],
            "size": torch.randint(len(SIZES), (n,), generator=g),
            "position": torch.randint(len(POSITIONS), (n,), generator=g)}


def _inside(shape: int, u: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Is (u, v) inside the unit-radius ``SHAPES[shape]``? u right, v up."""
    name = SHAPES[shape]
    if name == "circle":
        return u**2 + v**2 <= 1
    if name == "square":
        return torch.maximum(u.abs(), v.abs()) <= 0.8
    if name == "diamond":
        return u.abs() + v.abs() <= 1
    if name == "triangle":                  # equilateral, pointing up, circumradius 1.15
        u, v = u / 1.15, v / 1.15
        return (v >= -0.5) & (math.sqrt(3) * u + v <= 1) & (-math.sqrt(3) * u + v <= 1)
    if name == "hexagon":                   # regular, flat top, circumradius 1
        return (v.abs() <= math.sqrt(3) / 2) & (u.abs() * math.sqrt(3) / 2 + v.abs() * 0.5
                                                <= math.sqrt(3) / 2)
    if name == "cross":
        return (((u.abs() <= 0.33) & (v.abs() <= 0.95)) | ((v.abs() <= 0.33) & (u.abs() <= 0.95)))
    if name == "star":                      # five points, one up; inner radius 0.45
        sector = 2 * math.pi / 5
        phi = torch.remainder(torch.atan2(v, u) - math.pi / 2, sector)
        psi = torch.minimum(phi, sector - phi)                      # angle from the nearest tip
        r = (u**2 + v**2).sqrt()
        tip = (1.0, 0.0)
        notch = (0.45 * math.cos(sector / 2), 0.45 * math.sin(sector / 2))
        px, py = r * psi.cos(), r * psi.sin()
        edge = (notch[0] - tip[0], notch[1] - tip[1])
        side = edge[0] * (py - tip[1]) - edge[1] * (px - tip[0])     # > 0 towards the centre
        return side >= 0
    if name == "heart":
        x, y = 1.2 * u, 1.2 * v + 0.15
        return (x**2 + y**2 - 1) ** 3 - x**2 * y**3 <= 0
    raise AssertionError(name)


@lru_cache(maxsize=4)
def _coverage(size: int, supersample: int) -> torch.Tensor:
    """Fraction of each pixel covered by every (shape, size, position), split into the
    shape's stripes and the bands between them: (shapes, sizes, positions, 2, S, S).

    Shapes sit on a fixed grid of sizes and positions, so 80 drawings cover every image and
    a caption fixes its image exactly."""
    s = size * supersample
    coords = (torch.arange(s, dtype=torch.float32) + 0.5) / supersample             # pixel units
    ys, xs = torch.meshgrid(coords, coords, indexing="ij")                          # (s, s)
    stripe = (torch.div(xs + ys, 2, rounding_mode="floor") % 2).bool()           # 2 px bands
    out = torch.zeros(len(SHAPES), len(SIZES), len(POSITIONS), 2, size, size)
    for j, radius in enumerate(SIZES.values()):
        for k, (cx, cy) in enumerate(POSITIONS.values()):
            u = (xs - cx * size) / (radius * size)
            v = -(ys - cy * size) / (radius * size)
            for i in range(len(SHAPES)):
                inside = _inside(i, u, v)
                parts = torch.stack([inside & stripe, inside & ~stripe]).float()   # (2, s, s)
                out[i, j, k] = torch.nn.functional.avg_pool2d(parts, supersample)
    return out


def render_shapes(attributes: dict[str, torch.Tensor], *, size: int = 32, style: str = "plain",
                  supersample: int = 4) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Draw shapes from their attributes. Returns images (N, 3, S, S), masks and edges
    (N, 1, S, S). ``style="striped"`` fills each shape with diagonal stripes of its colour
    and the complementary colour (a fixed function of the plain image: the hidden truth
    of :func:`unpaired_shapes`). Antialiased by ``supersample``² samples per pixel."""
    if style not in STYLES:
        raise ValueError(f"style must be one of {STYLES}, not {style!r}")
    cover = _coverage(size, supersample)[attributes["shape"], attributes["size"],
                                         attributes["position"]]                  # (N, 2, S, S)
    on_stripe, between = cover[:, :1], cover[:, 1:]                               # (N, 1, S, S)
    alpha = on_stripe + between
    fg = torch.tensor(list(COLOURS.values()))[attributes["colour"]][:, :, None, None]  # (N,3,1,1)
    bg = torch.tensor(list(BACKGROUNDS.values()))[attributes["background"]][:, :, None, None]
    band = 1 - fg if style == "striped" else fg
    images = bg * (1 - alpha) + fg * on_stripe + band * between
    masks = (alpha >= 0.5).float()
    eroded = -torch.nn.functional.max_pool2d(-masks, 3, stride=1, padding=1)
    edges = masks - eroded
    return images.clamp(0, 1), masks, edges


def shape_captions(attributes: dict[str, torch.Tensor]) -> list[str]:
    """'a {size} {colour} {shape} in the {position} on a {background} background'."""
    names = [list(SIZES), list(COLOURS), list(SHAPES), list(POSITIONS), list(BACKGROUNDS)]
    keys = ["size", "colour", "shape", "position", "background"]
    rows = zip(*(attributes[k].tolist() for k in keys), strict=True)
    return [f"a {names[0][a]} {names[1][b]} {names[2][c]} in the {names[3][d]} "
            f"on a {names[4][e]} background" for a, b, c, d, e in rows]


def shapes(n: int, *, seed: int = 0, size: int = 32, style: str = "plain",
           shapes: tuple[str, ...] | list[str] | None = None) -> ShapeSet:
    """``n`` seeded coloured shapes with captions, masks and edge maps.

    Eight shapes (``SHAPES``) in nine colours on six backgrounds, small or large, in five
    positions: 8·5·2·… ≈ 2,000 distinct captions. ``shapes=`` keeps only some shape names,
    e.g. to hold a concept out of training. Images float32 in [0, 1], (n, 3, size, size).
    """
    attributes = sample_shape_attributes(n, seed=seed, shapes=shapes)
    images, masks, edges = render_shapes(attributes, size=size, style=style)
    return ShapeSet(images, masks, edges, shape_captions(attributes), attributes)


@dataclass
class UnpairedDomains:
    """Two unpaired image domains whose hidden correspondence is known exactly."""

    a: torch.Tensor           # (N, 3, S, S) domain A (plain shapes)
    b: torch.Tensor           # (N, 3, S, S) domain B (striped shapes), drawn independently of A
    a_to_b: torch.Tensor      # (N, 3, S, S) the true translation of each image of A into B
    b_to_a: torch.Tensor      # (N, 3, S, S) the true translation of each image of B into A


def unpaired_shapes(n: int, *, seed: int = 0, size: int = 32) -> UnpairedDomains:
    """Plain shapes (A) and striped shapes (B) for unpaired translation (CycleGAN).

    A and B are sampled independently, so no image of A has its partner in B; but the
    translation is a known function (same shape, colour, place; stripes on or off), so
    ``a_to_b`` and ``b_to_a`` give the exact answer a translator should produce.
    """
    attrs_a = sample_shape_attributes(n, seed=seed)
    attrs_b = sample_shape_attributes(n, seed=seed + 7919)
    a = render_shapes(attrs_a, size=size)[0]
    b = render_shapes(attrs_b, size=size, style="striped")[0]
    a_to_b = render_shapes(attrs_a, size=size, style="striped")[0]
    b_to_a = render_shapes(attrs_b, size=size)[0]
    return UnpairedDomains(a, b, a_to_b, b_to_a)


def unpaired_shape_change(n: int, *, seed: int = 0, size: int = 32,
                          pair: tuple[str, str] = ("square", "star")) -> UnpairedDomains:
    """Unpaired domains that differ in geometry: ``pair[0]`` shapes (A) and ``pair[1]`` shapes (B).

    Colour, background, size and position are kept by the hidden translation; only the
    outline changes. The counterpart of :func:`unpaired_shapes` (a texture change), to show
    that CycleGAN translates texture and colour far better than shape."""
    attrs_a = sample_shape_attributes(n, seed=seed, shapes=pair[:1])
    attrs_b = sample_shape_attributes(n, seed=seed + 7919, shapes=pair[1:])

    def swap(attrs: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
        return {**attrs, "shape": torch.full_like(attrs["shape"], SHAPES.index(name))}

    a = render_shapes(attrs_a, size=size)[0]
    b = render_shapes(attrs_b, size=size)[0]
    a_to_b = render_shapes(swap(attrs_a, pair[1]), size=size)[0]
    b_to_a = render_shapes(swap(attrs_b, pair[0]), size=size)[0]
    return UnpairedDomains(a, b, a_to_b, b_to_a)
