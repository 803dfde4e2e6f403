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
