"""Assertion helpers for test cells.

Each raises ``AssertionError`` with a message written for a student: what was expected,
what was found, and a hint. Test cells import them at test time
(``from genlab.checks import check_close``) so a redefinition in student code does not
change what a test checks.

When a submission is graded, test cells run in the grader's process, outside the student's
kernel (:mod:`genlab.grader.judge`): names of the notebook become handles to the kernel,
and a function decorated with :func:`probe` runs in the kernel and returns plain data.
In JupyterLab the same cells run in the kernel as written.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch


def _fail(what: str, expected: Any, found: Any, hint: str | None) -> None:
    message = f"{what}\n  expected: {expected}\n  found:    {found}"
    if hint:
        message += f"\n  hint: {hint}"
    raise AssertionError(message)


def check_tensor(x: Any, name: str = "result") -> torch.Tensor:
    """Assert ``x`` is a torch.Tensor (not a NumPy array, list or None) and return it."""
    if not isinstance(x, torch.Tensor):
        _fail(f"{name} should be a torch.Tensor", "torch.Tensor", type(x).__name__,
              "return a tensor; did the function fall through without `return`?"
              if x is None else "convert with torch.as_tensor(...) or keep the computation in torch")
    return x


def check_shape(x: Any, shape: Sequence[int], name: str = "result",
                hint: str | None = None) -> None:
    """Assert a tensor has exactly ``shape`` (use -1 for 'any size' in one dimension)."""
    x = check_tensor(x, name)
    ok = x.dim() == len(shape) and all(s == -1 or s == d for s, d in zip(shape, x.shape, strict=False))
    if not ok:
        _fail(f"{name} has the wrong shape", tuple(shape), tuple(x.shape), hint)


def check_dtype(x: Any, dtype: torch.dtype, name: str = "result", hint: str | None = None) -> None:
    """Assert a tensor's dtype."""
    x = check_tensor(x, name)
    if x.dtype != dtype:
        _fail(f"{name} has the wrong dtype", dtype, x.dtype, hint)


def check_finite(x: Any, name: str = "result", hint: str | None = None) -> None:
    """Assert every entry is finite (no NaN or inf)."""
    x = check_tensor(x, name)
    bad = (~torch.isfinite(x.detach())).sum().item()
    if bad:
        _fail(f"{name} contains NaN or inf", "all finite", f"{bad} non-finite entries",
              hint or "look for a division by zero, log(0) or an exploding learning rate")


def check_close(actual: Any, expected: Any, name: str = "result", *, atol: float = 1e-5,
                rtol: float = 1e-4, hint: str | None = None) -> None:
    """Assert two tensors (or numbers) agree elementwise within ``atol + rtol·|expected|``."""
    exp = torch.as_tensor(expected, dtype=torch.float64)
    if not isinstance(actual, (int, float)):
        actual = check_tensor(actual, name)
    act = torch.as_tensor(actual).detach().to(torch.float64).cpu()
    exp = exp.cpu()
    if act.shape != exp.shape:
        _fail(f"{name} has the wrong shape", tuple(exp.shape), tuple(act.shape), hint)
    err = (act - exp).abs()
    tol = atol + rtol * exp.abs()
    if not bool(torch.all(err <= tol)) or not bool(torch.isfinite(act).all()):
        worst = int(torch.nan_to_num(err - tol, nan=math.inf).flatten().argmax())
        _fail(f"{name} is not close to the expected value "
              f"(largest error {err.flatten()[worst].item():.3g} at flat index {worst})",
              _short(exp.flatten()[worst]), _short(act.flatten()[worst]), hint)


def check_true(condition: bool, message: str, hint: str | None = None) -> None:
    """Assert a condition with a student-facing explanation."""
    if not condition:
        raise AssertionError(message + (f"\n  hint: {hint}" if hint else ""))


def check_metric(name: str, value: float, *, at_most: float | None = None,
                 at_least: float | None = None, hint: str | None = None) -> None:
    """Assert a quality metric passes a calibrated bar and print it either way.

    The printed line ``[metric] name = value (bar …)`` is what calibration scripts read.
    In smoke mode (``$GENLAB_SMOKE=1``, short loops) a missed bar is printed, not enforced,
    except when a grader's judge runs the check.
    """
    if (at_most is None) == (at_least is None):
        raise ValueError("give exactly one of at_most= or at_least=")
    value = float(value)
    bar = f"<= {at_most:.4g}" if at_most is not None else f">= {at_least:.4g}"
    passed = math.isfinite(value) and (value <= at_most if at_most is not None else value >= at_least)
    if not passed and _smoke_run():
        print(f"[metric] {name} = {value:.6g} (bar {bar}; not enforced in smoke mode)")
        return
    print(f"[metric] {name} = {value:.6g} (bar {bar})")
    if not passed:
        _fail(f"{name} does not reach the bar", bar, f"{value:.4g}", hint)


def _smoke_run() -> bool:
    """Smoke mode (genlab.profiles) and not grading: a judge (``_PROBE_HOOK`` set) always
    enforces its bars, whatever the environment says."""
    from genlab.profiles import smoke_mode

    return _PROBE_HOOK is None and smoke_mode()


def check_raises(fn: Callable[[], Any], exc: type[BaseException], message: str) -> None:
    """Assert that calling ``fn()`` raises ``exc``."""
    try:
        fn()
    except exc:
        return
    except Exception as other:  # noqa: BLE001 - reported to the student
        raise AssertionError(f"{message}\n  expected: {exc.__name__}\n  found:    "
                             f"{type(other).__name__}: {other}") from None
    raise AssertionError(f"{message}\n  expected: {exc.__name__}\n  found:    no exception")


# Set by the grader's judge (in its own process) while it runs a test cell; None in a kernel.
_PROBE_HOOK: Callable[[Callable], Callable] | None = None


def probe(fn: Callable) -> Callable:
    """Mark a function of a test cell as a probe: the part of a test that must run beside
    the student's code (a mock network passed to their loss, a backward pass through their
    model). It takes and returns plain data (tensors, numbers, strings, containers of
    them); the checks on what it returns stay outside it. Graded, it runs in the student's
    kernel and only its return value reaches the grader; in JupyterLab it runs in place,
    with its arguments and result copied as they would be when graded."""
    if _PROBE_HOOK is not None:
        return _PROBE_HOOK(fn)
    from genlab.wire import roundtrip

    def run_in_place(*args, **kwargs):
        args, kwargs = roundtrip((args, kwargs))
        return roundtrip(fn(*args, **kwargs))

    run_in_place.__name__ = fn.__name__
    run_in_place.__doc__ = fn.__doc__
    return run_in_place


def _short(value: torch.Tensor) -> str:
    return f"{value.item():.6g}" if value.numel() == 1 else str(value)
