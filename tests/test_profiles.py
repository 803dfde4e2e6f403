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
