import math

import pytest
import torch

from genlab.data import DataNotFoundError, closed_polygons, fashion_mnist, idx as fashion, mixture_2d, mixture_centres


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
    from genlab.zoo import DATA_DIR as data, manifest, sha256_of

    rows = manifest()
    for row in rows.values():
        assert row.command.strip() and row.figure.strip(), f"MANIFEST row for {row.path} is incomplete"
    shipped = {str(p.relative_to(data)) for p in data.rglob("*") if p.is_file()
               and p.name not in ("MANIFEST", "NOTICE", "README.md") and "cache" not in p.relative_to(data).parts}
    assert shipped == set(rows), f"unlisted: {shipped - set(rows)}, listed but missing: {set(rows) - shipped}"
    for path, row in rows.items():
        assert (data / path).stat().st_size == row.size and sha256_of(data / path) == row.sha256, \
            f"{path} changed since its MANIFEST row was written"
    total_mb = sum((data / p).stat().st_size for p in shipped) / 2**20
    assert total_mb < 60, f"data/ holds {total_mb:.1f} MB; the budget is 60 MB"


# --- MNIST (optional), through the same idx reader ------------------------------------------

def _write_idx(path, array):
    import gzip

    import numpy as np

    header = bytes([0, 0, 8, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def test_mnist_loads_from_a_given_folder_and_is_optional(tmp_path, fresh_env):
    import numpy as np

    from genlab.data import mnist

    fresh_env.setattr(fashion, "CACHE_DIR", tmp_path / "cache")
    with pytest.raises(DataNotFoundError) as info:
        mnist("test", verbose=False)
    assert "GENLAB_DATA" in str(info.value) and "genlab data mnist --download" in str(info.value)
    assert not fashion.available("mnist")
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 6), ("t10k", 4)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    fresh_env.setenv("GENLAB_DATA", str(tmp_path))
    x, y = mnist("test", verbose=False)
    assert x.shape == (4, 1, 28, 28) and 0 <= x.min() and x.max() <= 1 and y.tolist() == [0, 1, 2, 3]
    assert fashion.available("mnist")


def test_unknown_idx_dataset():
    with pytest.raises(ValueError, match="unknown idx dataset"):
        fashion.load_idx("kmnist")


# --- OpenMoji ----------------------------------------------------------------------------------

def test_emoji_pairs_captions_groups_and_splits():
    from genlab.data import EMOJI_GROUPS, emoji

    train, test, every = (emoji(s, verbose=False) for s in ("train", "test", "all"))
    assert len(train) + len(test) == len(every) > 2400
    assert every.images.shape == (len(every), 3, 32, 32) and every.images.dtype == torch.float32
    assert every.line_art.shape == (len(every), 1, 32, 32)
    for x in (every.images, every.line_art):
        assert 0 <= x.min() and x.max() <= 1
    assert 0.08 < len(test) / len(every) < 0.12
    assert not set(train.hexcodes) & set(test.hexcodes)
    assert "grinning face" in every.captions and len(every.captions) == len(every)
    assert set(every.labels.tolist()) == set(range(len(EMOJI_GROUPS)))
    # the colour image is drawn over its line art: where the line art is black, so is the colour
    lines = every.line_art[:, 0] < 0.25                                        # (N, 32, 32)
    colour_at_lines = every.images.mean(1)[lines].mean()
    assert colour_at_lines < 0.3 and every.images.mean() > 0.6
    # skin-tone variants stay on the side of the split of their base emoji
    with_tones = emoji("train", skintones=True, verbose=False)
    assert len(with_tones) > len(train) + 1500
    assert not set(with_tones.hexcodes) & set(test.hexcodes)
    from genlab.data.openmoji import EMOJI_FILE, _arrays

    base = dict(zip(_arrays(EMOJI_FILE)["hexcode"].tolist(), _arrays(EMOJI_FILE)["base"].tolist(), strict=True))
    assert not {base[h] for h in with_tones.hexcodes} & {base[h] for h in test.hexcodes}


def test_emoji_group_filter_and_bad_input(tmp_path):
    from genlab.data import EMOJI_GROUPS, emoji

    food = emoji("all", groups=["food-drink"], verbose=False)
    assert len(food) > 100 and set(food.labels.tolist()) == {EMOJI_GROUPS.index("food-drink")}
    with pytest.raises(ValueError, match="unknown OpenMoji group"):
        emoji(groups=["food"])
    with pytest.raises(ValueError, match="split must be one of"):
        emoji("validation")
    with pytest.raises(DataNotFoundError, match="git checkout"):
        emoji(path=tmp_path / "missing.npz")


def test_emoji_file_writer_is_reproducible(tmp_path):
    import numpy as np

    from genlab.data.openmoji import _write_npz

    arrays = {"a": np.arange(10, dtype=np.uint8), "b": np.array(["x", "yz"])}
    _write_npz(tmp_path / "1.npz", arrays)
    _write_npz(tmp_path / "2.npz", arrays)
    assert (tmp_path / "1.npz").read_bytes() == (tmp_path / "2.npz").read_bytes()
    with np.load(tmp_path / "1.npz") as z:
        assert z["b"].tolist() == ["x", "yz"]


# --- procedural shapes -------------------------------------------------------------------------

def test_shapes_are_seeded_and_captions_match_attributes():
    from genlab.data.procedural import BACKGROUNDS, COLOURS, POSITIONS, SHAPES, SIZES, shapes

    s = shapes(500, seed=1)
    assert s.images.shape == (500, 3, 32, 32) and s.masks.shape == s.edges.shape == (500, 1, 32, 32)
    assert torch.equal(s.images, shapes(500, seed=1).images)
    assert not torch.equal(s.images, shapes(500, seed=2).images)
    a = s.attributes
    for i in range(0, 500, 37):
        size, colour, shape = list(SIZES)[a["size"][i]], list(COLOURS)[a["colour"][i]], SHAPES[a["shape"][i]]
        position, background = list(POSITIONS)[a["position"][i]], list(BACKGROUNDS)[a["background"][i]]
        assert s.captions[i] == f"a {size} {colour} {shape} in the {position} on a {background} background"
    assert s.captions[0].startswith("a ") and "background" in s.captions[0]


def test_shape_pixels_are_exactly_their_colours_and_masks_are_exact():
    from genlab.data.procedural import BACKGROUNDS, COLOURS, shapes

    s = shapes(300, seed=0)
    fg = torch.tensor(list(COLOURS.values()))[s.attributes["colour"]]            # (N, 3)
    bg = torch.tensor(list(BACKGROUNDS.values()))[s.attributes["background"]]
    interior = -torch.nn.functional.max_pool2d(-s.masks, 3, stride=1, padding=1)  # eroded
    exterior = 1 - torch.nn.functional.max_pool2d(s.masks, 3, stride=1, padding=1)
    for i in range(300):
        inside = s.images[i][:, interior[i, 0] > 0].T                           # (P, 3)
        outside = s.images[i][:, exterior[i, 0] > 0].T
        assert len(inside) > 0 and torch.allclose(inside, fg[i].expand_as(inside), atol=1e-5)
        assert torch.allclose(outside, bg[i].expand_as(outside), atol=1e-5)
    assert set(s.masks.unique().tolist()) <= {0.0, 1.0}
    assert (s.edges <= s.masks).all() and (s.edges.sum((1, 2, 3)) > 0).all()
    large = s.attributes["size"] == 1
    assert s.masks[large].sum((1, 2, 3)).min() > s.masks[~large].sum((1, 2, 3)).max() * 0.9


def test_shapes_hold_out_and_bad_input():
    from genlab.data.procedural import SHAPES, shapes

    s = shapes(400, seed=0, shapes=[x for x in SHAPES if x != "star"])
    assert "star" not in " ".join(s.captions) and SHAPES.index("star") not in s.attributes["shape"]
    with pytest.raises(ValueError, match="unknown shape"):
        shapes(10, shapes=["blob"])
    with pytest.raises(ValueError, match="style must be one of"):
        shapes(10, style="dotted")
    with pytest.raises(ValueError, match="positive"):
        shapes(0)


def test_unpaired_domains_have_a_known_translation():
    from genlab.data.procedural import render_shapes, sample_shape_attributes, unpaired_shapes
    from genlab.metrics import translation_error

    d = unpaired_shapes(200, seed=5)
    attrs = sample_shape_attributes(200, seed=5)
    assert torch.equal(d.a, render_shapes(attrs)[0])
    assert torch.equal(d.a_to_b, render_shapes(attrs, style="striped")[0])
    assert translation_error(d.a_to_b, d.a_to_b) == 0
    # the truth differs from the input only inside the shape, and from B's images everywhere
    outside = 1 - torch.nn.functional.max_pool2d(render_shapes(attrs)[1], 3, stride=1, padding=1)
    assert ((d.a_to_b - d.a).abs() * outside).max() == 0
    assert translation_error(d.a, d.a_to_b) < translation_error(d.b, d.a_to_b)
    assert translation_error(d.b_to_a, d.b) > 0
