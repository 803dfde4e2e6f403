"""The model zoo: verified loading, what the shipped classifiers reach, and reproducing one."""
import shutil

import pytest
import torch

from genlab import zoo

CLASSIFIERS = ("fashion-classifier", "emoji-classifier", "shapes-classifier")


def test_every_recipe_is_shipped_with_a_complete_manifest_row():
    rows = {r.path: r for r in zoo.list_models()}
    for name in CLASSIFIERS:
        row = rows[f"checkpoints/{name}.pt"]
        assert row.command.startswith(f"python -m genlab.zoo train {name} --profile cpu --seed 0")
        assert "profile cpu, seed 0" in row.command and "accuracy" in row.figure
        model, meta = zoo.load(name, "cpu", with_meta=True)
        assert meta["name"] == name and meta["figure"] == row.figure and meta["seed"] == 0
        assert not any(p.requires_grad for p in model.parameters()) and not model.training


@pytest.fixture
def private_zoo(tmp_path, monkeypatch):
    """A copy of the fashion classifier and its MANIFEST row in a temporary data folder."""
    (tmp_path / "checkpoints").mkdir()
    shutil.copy(zoo.checkpoint_path("fashion-classifier"), tmp_path / "checkpoints")
    row = zoo.manifest()["checkpoints/fashion-classifier.pt"]
    monkeypatch.setattr(zoo, "CHECKPOINT_DIR", tmp_path / "checkpoints")
    monkeypatch.setattr(zoo, "MANIFEST", tmp_path / "MANIFEST")
    zoo.write_manifest_row(row, tmp_path / "MANIFEST")
    return tmp_path


def test_load_refuses_an_altered_file(private_zoo):
    path = private_zoo / "checkpoints" / "fashion-classifier.pt"
    zoo.load("fashion-classifier", "cpu")
    blob = bytearray(path.read_bytes())
    blob[-100] ^= 0xFF
    path.write_bytes(bytes(blob))
    with pytest.raises(zoo.ZooError, match="was altered.*git checkout"):
        zoo.load("fashion-classifier", "cpu")


def test_load_names_the_command_when_a_file_is_missing(private_zoo):
    (private_zoo / "checkpoints" / "fashion-classifier.pt").unlink()
    with pytest.raises(zoo.ZooError, match="is missing.*python -m genlab.zoo train fashion-classifier"):
        zoo.load("fashion-classifier", "cpu")
    with pytest.raises(zoo.ZooError, match="no checkpoint named 'inception'.*fashion-classifier"):
        zoo.load("inception", "cpu")


def test_checkpoints_only_build_genlab_networks(private_zoo):
    with pytest.raises(zoo.ZooError, match="only build genlab networks"):
        zoo._build("os.system", {})


def test_shipped_fashion_classifier_reaches_90_percent_on_the_test_set():
    from genlab.data import fashion_mnist

    x, y = fashion_mnist("test", verbose=False)
    model = zoo.load("fashion-classifier", "cpu")
    accuracy = (model.predict(x) == y).float().mean().item()
    print(f"[metric] fashion-classifier test accuracy = {accuracy:.4f} (bar ≥ 0.90)")
    assert accuracy >= 0.90


def test_shipped_shapes_classifier_reads_every_attribute_even_with_noise():
    from genlab.data.procedural import shapes

    s = shapes(1000, seed=777)
    model = zoo.load("shapes-classifier", "cpu")
    noisy = (s.images + 0.1 * torch.randn(s.images.shape, generator=torch.Generator().manual_seed(0))).clamp(0, 1)
    for head, labels in s.attributes.items():
        clean_acc = (model.predict(s.images, head) == labels).float().mean().item()
        noisy_acc = (model.predict(noisy, head) == labels).float().mean().item()
        print(f"[metric] shapes-classifier {head}: clean {clean_acc:.3f}, noise 0.1 {noisy_acc:.3f}")
        assert clean_acc >= 0.97 and noisy_acc >= 0.9, head


def test_shipped_emoji_classifier_beats_the_majority_class_by_far():
    from genlab.data import emoji

    test = emoji("test", verbose=False)
    model = zoo.load("emoji-classifier", "cpu")
    accuracy = (model.predict(test.images) == test.labels).float().mean().item()
    majority = test.labels.bincount().max().item() / len(test)
    print(f"[metric] emoji-classifier held-out accuracy = {accuracy:.3f} (majority {majority:.3f})")
    assert accuracy >= 2 * majority


def test_the_fashion_recipe_reproduces_in_the_ci_profile():
    """The shipped checkpoint's recipe, at ci size (4,000 images, 120 steps): it trains."""
    from genlab.data import fashion_mnist
    from genlab.recipes import train

    model, meta = train("fashion-classifier", profile="ci", seed=0)
    x, y = fashion_mnist("test", limit=2000, verbose=False)
    accuracy = (model.predict(x) == y).float().mean().item()
    print(f"[metric] fashion-classifier ci recipe accuracy = {accuracy:.3f}; {meta['figure']}")
    assert accuracy > 0.7 and meta["accuracy"] > 0.7, "measured 0.786 at ci size, 0.10 untrained"
    assert meta["reference"]["mean"].shape == (128,) and meta["reference"]["cov"].shape == (128, 128)
