import pytest
import torch

import genlab


def test_profile_from_environment(fresh_env):
    fresh_env.setenv("GENLAB_PROFILE", "CI ")
    assert genlab.profile() == "ci"


def test_profile_default_follows_cuda(fresh_env):
    assert genlab.profile() == ("gpu" if torch.cuda.is_available() else "cpu")


def test_unknown_profile_is_a_clear_error(fresh_env):
    fresh_env.setenv("GENLAB_PROFILE", "laptop")
    with pytest.raises(ValueError, match="ci, cpu, gpu"):
        genlab.profile()


def test_choose_picks_the_active_profile(fresh_env):
    fresh_env.setenv("GENLAB_PROFILE", "cpu")
    assert genlab.choose(ci=1, cpu=2, gpu=3) == 2
    assert genlab.choose(ci=1, cpu=2, gpu=3, profile_name="gpu") == 3
    with pytest.raises(ValueError, match="unknown profile"):
        genlab.choose(ci=1, cpu=2, gpu=3, profile_name="tpu")


def test_device_override_and_default(fresh_env):
    fresh_env.setenv("GENLAB_DEVICE", "cpu")
    assert genlab.device() == torch.device("cpu")
    fresh_env.delenv("GENLAB_DEVICE")
    expected = "cuda" if torch.cuda.is_available() else None
    assert genlab.device().type == (expected or genlab.device().type)
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert genlab.device().type == "cpu"


def test_seed_all_makes_runs_repeatable():
    g = genlab.seed_all(5)
    a = (torch.randn(3), torch.rand(2, generator=g))
    g = genlab.seed_all(5)
    b = (torch.randn(3), torch.rand(2, generator=g))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    genlab.seed_all(6)
    assert not torch.equal(torch.randn(3), a[0])


GPU = dict(steps=20000, width=128, batch=256, n_eval=10000, table=(10, 50, 1000), n_train=None, unet=dict(c=8),
           unet_steps=3000)


def test_smoke_cuts_only_the_named_counts(fresh_env):
    fresh_env.setenv("GENLAB_PROFILE", "gpu")
    smoke = dict(steps=3, n_eval=200, table=(2, 3), n_train=500, unet_steps=3)
    assert genlab.choose(ci={}, cpu={}, gpu=GPU, smoke=smoke) == GPU     # off: the profile as it is
    fresh_env.setenv("GENLAB_SMOKE", "1")
    assert genlab.smoke_mode()
    cut = genlab.choose(ci={}, cpu={}, gpu=GPU, smoke=smoke)
    assert cut == {**GPU, **smoke} and cut["width"] == 128 and cut["batch"] == 256
    assert genlab.choose(ci=1, cpu=2, gpu=5000, smoke=500) == 500
    assert genlab.choose(ci=1, cpu=2, gpu=5000) == 5000                  # nothing named: unchanged
    fresh_env.setenv("GENLAB_SMOKE", "0")
    assert not genlab.smoke_mode() and genlab.choose(ci=1, cpu=2, gpu=5000, smoke=500) == 5000


def test_smoke_refuses_sizes_growth_and_unknown_keys(fresh_env):
    fresh_env.setenv("GENLAB_PROFILE", "gpu")
    fresh_env.setenv("GENLAB_SMOKE", "1")
    for bad, error in ((dict(width=8), "not 'width'"), (dict(batch=8), "not 'batch'"), (dict(unet=3), "not 'unet'"),
                       (dict(steps=30000), "not a shorter run"), (dict(table=(2, 2000)), "not a shorter run"),
                       (dict(stesp=3), "does not have")):
        with pytest.raises((ValueError, KeyError), match=error):
            genlab.choose(ci={}, cpu={}, gpu=GPU, smoke=bad)
    with pytest.raises(TypeError, match="whole numbers"):
        genlab.choose(ci={}, cpu={}, gpu=GPU, smoke=dict(steps=2.5))
    fresh_env.setenv("GENLAB_SMOKE", "maybe")
    with pytest.raises(ValueError, match="GENLAB_SMOKE"):
        genlab.smoke_mode()


def test_every_notebook_names_its_smoke_counts():
    """Each notebook's configuration says what smoke mode cuts, and the cut is legal for
    every profile (the smoke run of tests/test_notebooks.py only tries gpu)."""
    import ast
    import json

    from genlab.course import LECTURES, solution_path, topics
    for path in sorted(LECTURES.glob("*.ipynb")) + [solution_path(t) for t in topics()]:
        calls = []
        for cell in json.loads(path.read_text())["cells"]:
            if cell["cell_type"] != "code" or "choose(" not in "".join(cell["source"]):
                continue
            tree = ast.parse("".join(line for line in cell["source"] if not line.lstrip().startswith(("%", "!"))))
            calls += [n for n in ast.walk(tree) if isinstance(n, ast.Call)
                      and getattr(n.func, "attr", getattr(n.func, "id", None)) == "choose"]
        assert calls, f"{path.name} has no genlab.choose"
        for call in calls:
            kw = {k.arg: k.value for k in call.keywords}
            assert "smoke" in kw, f"{path.name}: a genlab.choose call without smoke="
            try:
                values = {k: ast.literal_eval(kw[k]) for k in ("ci", "cpu", "gpu", "smoke")}
            except ValueError:
                continue        # a configuration holding names (e.g. UNET) is checked when it runs
            for name in ("cpu", "gpu"):
                genlab.profiles._check_smoke(values[name], values["smoke"], name)
