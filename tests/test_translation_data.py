"""Data helpers for the image-to-image topics (04 pix2pix, 05 CycleGAN)."""
import torch

from genlab.data import sobel_edges, sobel_magnitude


def test_sobel_magnitude_of_a_step_and_a_flat_image():
    x = torch.zeros(2, 3, 8, 8)
    x[..., 4:] = 1.0                                   # a vertical step of height 1
    m = sobel_magnitude(x)
    assert m.shape == (2, 1, 8, 8)
    assert torch.allclose(m[..., 3:5], torch.ones(2, 1, 8, 2))           # the two columns at the step
    assert m[..., :3].abs().max() == 0 and m[..., 5:].abs().max() == 0   # flat elsewhere, borders included
    assert sobel_magnitude(torch.full((1, 1, 5, 5), 0.7)).abs().max() < 1e-6


def test_sobel_is_rotation_equivariant_and_edges_are_binary():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 12, 12, generator=g)
    rotated = sobel_magnitude(x.rot90(1, dims=(2, 3)))
    assert torch.allclose(rotated, sobel_magnitude(x).rot90(1, dims=(2, 3)), atol=1e-6)
    e = sobel_edges(x, threshold=0.3)
    assert set(e.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(e, (sobel_magnitude(x) > 0.3).float())


def test_unpaired_shape_change_keeps_everything_but_the_outline():
    from genlab.data import unpaired_shape_change
    from genlab.data.procedural import render_shapes, sample_shape_attributes

    d = unpaired_shape_change(64, seed=3, size=16, pair=("square", "star"))
    assert d.a.shape == d.b.shape == d.a_to_b.shape == d.b_to_a.shape == (64, 3, 16, 16)
    attrs = sample_shape_attributes(64, seed=3, shapes=["square"])
    assert torch.equal(d.a, render_shapes(attrs, size=16)[0])               # A: the squares themselves
    star = {**attrs, "shape": torch.full_like(attrs["shape"], 6)}           # SHAPES[6] == "star"
    assert torch.equal(d.a_to_b, render_shapes(star, size=16)[0])           # the truth: same attributes, a star
    assert not torch.equal(d.a, d.b[:64])                                   # the domains are drawn independently
    # only pixels near the shape change: most of each image (the background) is kept exactly
    changed = ((d.a - d.a_to_b).abs().amax(dim=1) > 0).float().mean()
    assert 0.01 < changed < 0.5
    assert (d.a - d.a_to_b).abs().mean() > 0.005                             # the outline does change
