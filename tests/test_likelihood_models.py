"""The provided pieces of topics 07 (VAE) and 08 (PixelCNN): grey-level quantisation and the VAE backbone."""
import math

import pytest
import torch
import torch.nn.functional as F

from genlab.data import dequantise, fashion_mnist, quantise
from genlab.metrics import bits_per_dim
from genlab.nets import CategoricalVAE


def test_quantise_maps_to_the_nearest_level():
    x = torch.tensor([0.0, 0.1, 0.17, 0.16, 0.5, 0.83, 0.84, 1.0])
    assert quantise(x, 4).tolist() == [0, 0, 1, 0, 2, 2, 3, 3]     # levels at 0, 1/3, 2/3, 1
    assert quantise(x, 2).tolist() == [0, 0, 0, 0, 0, 1, 1, 1]     # round half to even at 0.5
    assert quantise(x, 4).dtype == torch.int64


def test_quantise_clamps_and_dequantise_inverts_on_the_levels():
    assert quantise(torch.tensor([-0.3, 1.7]), 4).tolist() == [0, 3]
    levels = torch.arange(4)
    assert torch.allclose(dequantise(levels, 4), torch.tensor([0.0, 1 / 3, 2 / 3, 1.0]))
    assert torch.equal(quantise(dequantise(levels, 4), 4), levels)
    x = torch.rand(1000)
    assert (dequantise(quantise(x, 4), 4) - x).abs().max() <= 1 / 6 + 1e-6     # half a level at most
    with pytest.raises(ValueError):
        quantise(x, 1)
    with pytest.raises(ValueError):
        dequantise(levels, 1)


def test_fashion_mnist_uses_all_four_levels():
    x, _ = fashion_mnist("test", limit=200, verbose=False)
    counts = torch.bincount(quantise(x, 4).flatten(), minlength=4)
    assert (counts > 0).all() and counts[0] > counts[1:].max()      # mostly background


def test_categorical_vae_shapes_and_zero_weights():
    vae = CategoricalVAE(latent_dim=3, levels=4, width=16)
    x = torch.randint(0, 4, (5, 1, 28, 28))
    mu, logvar = vae.encode(x)
    assert mu.shape == logvar.shape == (5, 3)
    assert vae.decode(mu).shape == (5, 4, 1, 28, 28)
    vae.zero_()
    mu, logvar = vae.encode(x)
    assert mu.abs().max() == 0 and logvar.abs().max() == 0
    nll = F.cross_entropy(vae.decode(mu), x, reduction="none").flatten(1).sum(1)
    assert torch.allclose(nll, torch.full((5,), 784 * math.log(4)))
    assert bits_per_dim(nll, 784) == pytest.approx(2.0)             # uniform over 4 levels: 2 bits


def test_categorical_vae_other_image_shapes():
    vae = CategoricalVAE(latent_dim=2, levels=2, image_shape=(3, 8, 8), width=8, depth=1)
    assert vae.decode(torch.zeros(4, 2)).shape == (4, 2, 3, 8, 8)
    assert vae.encode(torch.randint(0, 2, (4, 3, 8, 8)))[0].shape == (4, 2)
