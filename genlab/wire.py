"""Plain data across the boundary between a student's kernel and the grader's judge.

When a submission is graded, its test cells run in the grader's own process (the judge),
not in the student's kernel. The judge reaches the student's code only through
:func:`serve`, which runs in the kernel: it looks a name up, calls a function, reads an
attribute or runs a probe (a function of the test cell, see :func:`genlab.checks.probe`)
and answers with plain data — numbers, strings, lists, tuples, dicts and arrays as
``.npy`` bytes, never pickles. Objects that are not data (a network, a function) stay in
the kernel and travel as handles, which the judge can only use to ask again.

Whatever the student's code does to its own interpreter can change the data it sends
back, never what the judge concludes from it. The same codec serves the in-kernel mode
(:func:`roundtrip`), so a test behaves alike in JupyterLab and when graded.
"""
from __future__ import annotations

import base64
import io
import json
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

MAX_REPLY_BYTES = 96 * 2**20    # a larger answer is refused (arrays, strings, everything)
MAX_DEPTH = 32
MAX_ITEMS = 200_000
_NUMERIC_KINDS = "biufc"        # bool, signed, unsigned, float, complex: no objects, no records


class WireError(ValueError):
    """Data that cannot cross the boundary (too big, too deep, not plain data)."""


def _npy(array: np.ndarray) -> str:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array, order="C"), allow_pickle=False)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _from_npy(text: str) -> np.ndarray:
    array = np.load(io.BytesIO(base64.b64decode(text, validate=True)), allow_pickle=False)
    if not isinstance(array, np.ndarray) or array.dtype.kind not in _NUMERIC_KINDS or array.dtype.fields:
        raise WireError(f"arrays must be numeric, got dtype {getattr(array, 'dtype', type(array))}")
    return array


def encode(value: Any, keep: Callable[[Any], Any] | None = None, _depth: int = 0) -> Any:
    """``value`` as JSON-ready plain data. Objects that are not data go to ``keep``, which
    returns their handle (``None``: raise)."""
    if _depth > MAX_DEPTH:
        raise WireError("data nested too deeply")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value if abs(value) < 2**63 else {"bigint": str(value)}
    if isinstance(value, float):
        return {"float": repr(value)}
    if isinstance(value, np.generic) and value.dtype.kind in _NUMERIC_KINDS:
        return encode(value.item(), keep, _depth)
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu()
        dtype = str(tensor.dtype).removeprefix("torch.")
        if tensor.dtype == torch.bfloat16:
            tensor = tensor.float()
        return {"tensor": _npy(tensor.resolve_conj().resolve_neg().numpy()), "dtype": dtype}
    if isinstance(value, np.ndarray) and value.dtype.kind in _NUMERIC_KINDS and not value.dtype.fields:
        return {"ndarray": _npy(value)}
    if isinstance(value, torch.device):
        return {"device": str(value)}
    if isinstance(value, torch.dtype):
        return {"torch_dtype": str(value).removeprefix("torch.")}
    if isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        items = [encode(v, keep, _depth + 1) for v in value]
        return {"list": items} if isinstance(value, list) else {"tuple": items}
    if isinstance(value, dict) and type(value) is dict:
        return {"dict": [[encode(k, keep, _depth + 1), encode(v, keep, _depth + 1)] for k, v in value.items()]}
    if isinstance(value, slice):
        return {"slice": [encode(value.start, keep), encode(value.stop, keep), encode(value.step, keep)]}
    if value is Ellipsis:
        return {"ellipsis": True}
    if keep is None:
        raise WireError(f"a {type(value).__name__} is not plain data")
    return {"handle": keep(value), "type": type(value).__name__}


def decode(data: Any, resolve: Callable[[dict], Any] | None = None, _depth: int = 0,
           _budget: list | None = None) -> Any:
    """The value :func:`encode` wrote; ``resolve`` turns a handle back into an object."""
    budget = _budget if _budget is not None else [MAX_ITEMS]
    budget[0] -= 1
    if budget[0] < 0 or _depth > MAX_DEPTH:
        raise WireError("data too large or nested too deeply")
    if data is None or isinstance(data, (bool, str, int)) and not isinstance(data, float):
        return data
    if not isinstance(data, dict) or len(data) not in (1, 2):
        raise WireError(f"not wire data: {str(data)[:60]}")
    if "float" in data:
        return float(data["float"])
    if "bigint" in data:
        return int(data["bigint"])
    if "tensor" in data:
        array = _from_npy(data["tensor"])
        tensor = torch.from_numpy(array.copy())
        dtype = getattr(torch, str(data.get("dtype", "")), None)
        return tensor.to(dtype) if isinstance(dtype, torch.dtype) and dtype != tensor.dtype else tensor
    if "ndarray" in data:
        return _from_npy(data["ndarray"])
    if "device" in data:
        return torch.device(str(data["device"]))
    if "torch_dtype" in data:
        dtype = getattr(torch, str(data["torch_dtype"]), None)
        if not isinstance(dtype, torch.dtype):
            raise WireError(f"unknown dtype {data['torch_dtype']!r}")
        return dtype
    if "list" in data or "tuple" in data:
        items = [decode(v, resolve, _depth + 1, budget) for v in data.get("list", data.get("tuple"))]
        return items if "list" in data else tuple(items)
    if "dict" in data:
        return {decode(k, resolve, _depth + 1, budget): decode(v, resolve, _depth + 1, budget)
                for k, v in data["dict"]}
    if "slice" in data:
        return slice(*(decode(v, resolve, _depth + 1, budget) for v in data["slice"]))
    if "ellipsis" in data:
        return Ellipsis
    if "handle" in data:
        if resolve is None:
            raise WireError("a handle where plain data was expected")
        return resolve(data)
    raise WireError(f"unknown wire tag {sorted(data)}")


def dumps(data: Any) -> str:
    text = json.dumps(data, separators=(",", ":"))
    if len(text) > MAX_REPLY_BYTES:
        raise WireError(f"{len(text) / 2**20:.0f} MB is more than the {MAX_REPLY_BYTES // 2**20} MB "
                        "that may cross between the notebook and the grader")
    return text


def loads(text: str) -> Any:
    if not isinstance(text, str) or len(text) > MAX_REPLY_BYTES:
        raise WireError("reply missing or too large")
    return json.loads(text)


def roundtrip(value: Any) -> Any:
    """What the other side would receive: data copied (tensors detached, on the CPU),
    other objects passed through. The in-kernel twin of crossing the boundary."""
    kept: list = []

    def keep(obj):
        kept.append(obj)
        return len(kept) - 1

    return decode(encode(value, keep), lambda h: kept[h["handle"]])


# ---------------------------------------------------------------- the kernel's side

_HANDLES: list = []


def _keep(obj: Any) -> int:
    _HANDLES.append(obj)
    return len(_HANDLES) - 1


def _resolve(ref: dict) -> Any:
    index = ref.get("handle")
    if not isinstance(index, int) or not 0 <= index < len(_HANDLES):
        raise WireError(f"unknown handle {index!r}")
    return _HANDLES[index]


def serve(user_ns: dict, request: str) -> str:
    """Answer one request of the judge (runs in the student's kernel); always returns JSON."""
    try:
        req = json.loads(request)
        if req.get("seed") is not None:
            import random

            random.seed(req["seed"])
            np.random.seed(req["seed"] % 2**32)
            torch.manual_seed(req["seed"])
        value = _OPS[req["op"]](user_ns, req)
        reply = {"ok": encode(value, _keep)}
        return dumps(reply)
    except BaseException as exc:  # noqa: BLE001 - everything goes back to the judge as data
        bases = [c.__name__ for c in type(exc).__mro__ if c.__module__ == "builtins"]
        try:
            return json.dumps({"error": [type(exc).__name__, str(exc)[:4000], bases]})
        except BaseException:  # noqa: BLE001 - a str() that raises
            return json.dumps({"error": [type(exc).__name__, "", bases]})


def _args(req: dict) -> tuple[list, dict]:
    args = decode(req.get("args", {"list": []}), _resolve)
    kwargs = decode(req.get("kwargs", {"dict": []}), _resolve)
    return list(args), dict(kwargs)


def _op_get(user_ns: dict, req: dict) -> dict:
    missing = object()
    found = {}
    for name in req["names"]:
        value = user_ns.get(name, missing)
        found[name] = ("missing", None) if value is missing else ("ok", value)
    return found


def _op_define(user_ns: dict, req: dict) -> Any:
    local: dict = {}
    exec(compile(req["source"], "<probe>", "exec"), user_ns, local)  # noqa: S102 - the course's probe
    return local[req["name"]]


def _op_call(user_ns: dict, req: dict) -> Any:
    args, kwargs = _args(req)
    return _resolve(req["target"])(*args, **kwargs)


def _op_getattr(user_ns: dict, req: dict) -> Any:
    return getattr(_resolve(req["target"]), req["attr"])


def _op_setattr(user_ns: dict, req: dict) -> None:
    args, _ = _args(req)
    setattr(_resolve(req["target"]), req["attr"], args[0])


def _op_getitem(user_ns: dict, req: dict) -> Any:
    args, _ = _args(req)
    return _resolve(req["target"])[args[0]]


def _op_next(user_ns: dict, req: dict) -> Any:
    return next(_resolve(req["target"]))


def _op_iter(user_ns: dict, req: dict) -> Any:
    return iter(_resolve(req["target"]))


def _op_len(user_ns: dict, req: dict) -> int:
    return len(_resolve(req["target"]))


_OPS = {"get": _op_get, "define": _op_define, "call": _op_call, "getattr": _op_getattr,
        "setattr": _op_setattr, "getitem": _op_getitem, "next": _op_next, "iter": _op_iter, "len": _op_len}
