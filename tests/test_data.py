import math

import pytest
import torch

from genlab.data import DataNotFoundError, closed_polygons, fashion_mnist, mixture_2d, mixture_centres
from genlab.data import fashion


def test_fashion_mnist_shapes_range_and_labels():
    x, y = fashion_mnist("test", limit=500, verbose=False)
    assert x.shape == (500, 1, 28, 28) and x.dtype == torch.float32
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() == 1.0
    assert y.shape == (500,) and y.dtype == torch.int64 and set(y.tolist()) == set(range(10))


def test_fashion_mnist_full_splits_and_limit_prefix():
    x, y = fashion_mnist("train", verbose=False)
    assert x.shape == (60000, 1, 28, 28)
    x_small, y_small = fashion_mnist("train", limit=100, verbose=False)
    assert torch.equal(x_small, x[:100]) and torch.equal(y_small, y[:100])
    assert len(fashion_mnist("test", verbose=False)[0]) == 10000


def test_fashion_mnist_pad32_keeps_the_image_centred():
    x28, _ = fashion_mnist("test", limit=4, verbose=False)
    x32, _ = fashion_mnist("test", limit=4, pad32=True, verbose=False)
    assert x32.shape == (4, 1, 32, 32)
    assert torch.equal(x32[:, :, 2:30, 2:30], x28) and x32[:, :, :2].abs().sum() == 0


def test_fashion_mnist_reports_its_source(capsys):
    fashion_mnist("test", limit=1)
    assert "from" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, message", [
    (dict(split="validation"), "split must be one of"),
    (dict(limit=0), "limit must be positive"),
])
def test_fashion_mnist_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        fashion_mnist(**kwargs, verbose=False)


def test_missing_fashion_mnist_names_three_ways(tmp_path, fresh_env):
    fresh_env.setattr(fashion, "DEBIAN_DIR", tmp_path / "none")
    fresh_env.setattr(fashion, "CACHE_DIR", tmp_path / "cache")
    with pytest.raises(DataNotFoundError) as info:
        fashion_mnist("test", verbose=False)
    text = str(info.value)
    assert "apt-get install dataset-fashion-mnist" in text and "GENLAB_DATA" in text and "--download" in text
    assert not (tmp_path / "cache").exists(), "a failed lookup must not write anything"


def test_explicit_directory_wins(tmp_path, fresh_env):
    for name in ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"):
        (tmp_path / name).symlink_to(fashion.DEBIAN_DIR / name)
    fresh_env.setenv("GENLAB_DATA", str(tmp_path))
    label, folder = fashion.locate()
    assert folder == tmp_path and "directory" in label


def test_closed_polygons_are_seeded_and_closed():
    p = closed_polygons(64, seed=3)
    assert p.shape == (64, 2, 96) and p.dtype == torch.float32
    assert torch.equal(p, closed_polygons(64, seed=3))
    assert not torch.equal(p, closed_polygons(64, seed=4))
    step = (p - p.roll(1, dims=-1)).norm(dim=1)          # edge lengths, including N-1 -> 0
    assert step.max() < 0.25, "consecutive vertices, the seam included, are close"
    with pytest.raises(ValueError):
        closed_polygons(0)


@pytest.mark.parametrize("name, modes", [("8-ring", 8), ("25-grid", 25)])
def test_mixtures_put_every_sample_near_a_mode(name, modes):
    x = mixture_2d(name, 5000, seed=0)
    centres = mixture_centres(name)
    assert centres.shape == (modes, 2)
    nearest = torch.cdist(x, centres).min(dim=1)
    assert nearest.values.max() < 0.5
    assert len(nearest.indices.unique()) == modes


def test_swiss_roll_and_unknown_name():
    x = mixture_2d("swiss-roll", 1000)
    radius = x.norm(dim=1)
    assert radius.min() > 1.5 * math.pi / 5 * 0.7 and radius.max() < 4.5 * math.pi / 5 * 1.2
    with pytest.raises(ValueError, match="unknown 2D mixture"):
        mixture_2d("moons", 10)


def test_every_shipped_file_is_in_the_manifest():
    import hashlib

    from genlab.course import REPO_ROOT

    data = REPO_ROOT / "data"
    rows = {}
    for line in (data / "MANIFEST").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            path, sha256, size, command, *_ = line.split("\t")
            assert command.strip(), f"MANIFEST row for {path} does not say how it was made"
            rows[path] = (sha256, int(size))
    shipped = {str(p.relative_to(data)) for p in data.rglob("*") if p.is_file()
               and p.name not in ("MANIFEST", "NOTICE", "README.md") and "cache" not in p.relative_to(data).parts}
    assert shipped == set(rows), f"unlisted: {shipped - set(rows)}, listed but missing: {set(rows) - shipped}"
    for path, (sha256, size) in rows.items():
        blob = (data / path).read_bytes()
        assert len(blob) == size and hashlib.sha256(blob).hexdigest() == sha256, f"{path} changed"
    total_mb = sum((data / p).stat().st_size for p in shipped) / 2**20
    assert total_mb < 60, f"data/ holds {total_mb:.1f} MB; the budget is 60 MB"
