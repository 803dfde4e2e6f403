"""Find attempts to make tests pass without doing the work.

Two checks, both of which flag a submission for review without changing how it runs:

- :func:`static_scan` reads the student's cells before execution and reports rebinding of
  builtins and of names the released notebook imports or defines (``check_close = ...``,
  ``def len(...)``), assignment to attributes of imported modules (``torch.allclose = ...``,
  ``genlab.checks.check_close = ...``), and the tools for doing that indirectly
  (``setattr``, ``exec``, ``sys.modules``, ``builtins``, ``gc``, ``ctypes``, IPython magics
  and shell escapes).
- :func:`fingerprint` runs *inside* the kernel, before the first cell, after every cell of
  the course and before every test cell: it returns the identity of every object in the
  loaded watched modules (builtins, math, torch, torch.nn.functional, torch.linalg, numpy,
  the Tensor and Module classes, genlab) and of the user names bound to them. The grader
  keeps a baseline outside the kernel, extends it with what the course's cells load
  (:func:`extend`) and compares before each test (:func:`compare`); a test cell that would
  run after a change is not run and scores zero, and the submission is marked ``tampered``.

A determined student can still defeat checks that run in the same process as their code;
the static scan names the tools that needs, so such a submission is flagged as well.
"""
from __future__ import annotations

import ast
import builtins
from typing import Any

WATCHED_MODULES = ("builtins", "math", "torch", "torch.nn", "torch.nn.functional", "torch.linalg",
                   "numpy", "numpy.testing")
WATCHED_CLASSES = (("torch", "Tensor"), ("torch._C", "TensorBase"), ("torch.nn", "Module"))
SUSPICIOUS_CALLS = {"setattr", "delattr", "exec", "eval", "compile", "__import__", "globals",
                    "get_ipython"}        # called by their bare name (model.eval() is fine)
SUSPICIOUS_METHODS = {"reload", "__setattr__", "__delattr__"}
SUSPICIOUS_MODULES = {"builtins", "gc", "ctypes", "importlib", "unittest.mock", "mock", "IPython"}
HARMLESS_MODULES = ("IPython.display",)   # showing things is what notebooks do
SUSPICIOUS_ATTRS = {"__dict__", "__builtins__", "__code__", "__globals__", "f_globals", "f_locals",
                    "f_back"}
BUILTIN_NAMES = {n for n in dir(builtins) if not n.startswith("_")}


def python_source(source: str) -> str:
    """Cell source as IPython would run it (magics and ``!`` become get_ipython() calls)."""
    try:
        from IPython.core.inputtransformer2 import TransformerManager
        return TransformerManager().transform_cell(source)
    except Exception:  # noqa: BLE001 - fall back to the raw source
        return source


def _import_origins(node: ast.Import | ast.ImportFrom) -> dict[str, str]:
    """Name bound -> what it is bound to, e.g. F -> torch.nn.functional."""
    out = {}
    for alias in node.names:
        if isinstance(node, ast.ImportFrom):
            out[alias.asname or alias.name] = f"{'.' * node.level}{node.module or ''}.{alias.name}"
        else:
            out[alias.asname or alias.name.split(".")[0]] = alias.name if alias.asname else alias.name.split(".")[0]
    return out


def protected_names(locked_sources: list[str]) -> dict[str, str]:
    """Names a submission must not rebind: what the locked and test cells import (name ->
    origin) or define at top level (name -> 'def')."""
    names: dict[str, str] = {}
    for source in locked_sources:
        try:
            tree = ast.parse(python_source(source))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names.update(_import_origins(node))
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names[node.name] = "def"
    return names


def _root_name(node: ast.AST) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def static_scan(student_sources: list[str], protected: dict[str, str]) -> list[str]:
    """One line per suspicious statement in the student's cells (empty when clean)."""
    findings: list[str] = []
    protected = {**{n: f"builtins.{n}" for n in BUILTIN_NAMES}, **protected}
    trees = []
    for source in student_sources:
        try:
            trees.append(ast.parse(python_source(source)))
        except SyntaxError:
            continue  # an honest mistake; the tests will say so
    modules = {n for n, origin in protected.items() if origin != "def" and not origin.startswith("builtins.")}
    for tree in trees:
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules |= set(_import_origins(node))

    def flag(node: ast.AST, what: str) -> None:
        findings.append(f"line {getattr(node, 'lineno', '?')}: {what}")

    def check_target(target: ast.AST, top: bool) -> None:
        if isinstance(target, ast.Name) and top and target.id in protected:
            flag(target, f"rebinds {target.id!r}, a builtin or a name the notebook provides")
        elif isinstance(target, ast.Attribute) and (_root_name(target) in modules or
                                                    target.attr in SUSPICIOUS_ATTRS):
            flag(target, f"assigns to {ast.unparse(target)}, an attribute of a module or function")
        elif isinstance(target, ast.Subscript) and (
                isinstance(target.value, ast.Attribute) and target.value.attr in SUSPICIOUS_ATTRS | {"modules"}
                or isinstance(target.value, ast.Call) and ast.unparse(target.value.func) in ("globals", "vars")):
            flag(target, f"assigns into {ast.unparse(target.value)}")
        elif isinstance(target, (ast.Tuple, ast.List, ast.Starred)):
            for t in getattr(target, "elts", [getattr(target, "value", None)]):
                check_target(t, top)

    for tree in trees:
        top_level = {id(node) for node in tree.body}
        for node in ast.walk(tree):
            top = id(node) in top_level
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target]):
                    check_target(target, top)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                if top and node.name in protected:
                    flag(node, f"redefines {node.name!r}, a builtin or a name the notebook provides")
            elif isinstance(node, (ast.For, ast.With)) and top:
                targets = [node.target] if isinstance(node, ast.For) else \
                    [i.optional_vars for i in node.items if i.optional_vars is not None]
                for t in targets:
                    check_target(t, top)
            elif isinstance(node, ast.Delete):
                for t in node.targets:
                    if isinstance(t, ast.Attribute) and _root_name(t) in modules or \
                            isinstance(t, ast.Name) and top and t.id in protected:
                        flag(t, f"deletes {ast.unparse(t)}")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                mod = node.module or "" if isinstance(node, ast.ImportFrom) else ""
                for name, origin in _import_origins(node).items():
                    full = origin.lstrip(".")
                    if (any(full == m or full.startswith(m + ".") for m in SUSPICIOUS_MODULES) or
                            mod.split(".")[0] in SUSPICIOUS_MODULES) and not full.startswith(HARMLESS_MODULES):
                        flag(node, f"imports {full}")
                    elif top and name in protected and protected[name] not in (origin, "def"):
                        flag(node, f"rebinds {name!r} by importing {full}")
            elif isinstance(node, ast.Call):
                if isinstance(node.func, ast.Name) and node.func.id in SUSPICIOUS_CALLS or \
                        isinstance(node.func, ast.Attribute) and node.func.attr in SUSPICIOUS_METHODS:
                    flag(node, f"calls {ast.unparse(node.func)}()")
            elif isinstance(node, ast.Attribute) and (node.attr in SUSPICIOUS_ATTRS or
                                                      node.attr == "modules" and _root_name(node) == "sys"):
                flag(node, f"uses {ast.unparse(node)}")
            elif isinstance(node, ast.Global) and not top:
                bad = [n for n in node.names if n in protected]
                if bad:
                    flag(node, f"declares global {', '.join(bad)}")
    return list(dict.fromkeys(findings))


# ---------------------------------------------------------------- inside the kernel

PROBE_EXPRESSION = ("__import__('json').dumps(__import__('genlab.grader.tamper', fromlist=['fingerprint'])"
                    ".fingerprint(globals()))")


TOOLING = {"genlab.cli", "genlab.grader", "genlab.demos", "genlab.course"}
_DUNDERS = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__", "__float__",
            "__abs__", "__sub__", "__add__", "__mul__", "__truediv__", "__import__",
            "__build_class__", "__call__", "__len__", "__getattr__", "__getattribute__"}


def fingerprint(user_ns: dict[str, Any]) -> dict[str, Any]:
    """Identities of the watched objects that are loaded, and of every user name (runs in
    the kernel; imports nothing the notebook has not imported)."""
    import sys
    import types

    objects: dict[str, int] = {}
    trusted: list[str] = []
    library = _library_dirs()
    names = [m for m in WATCHED_MODULES if m in sys.modules]
    names += [m for m in list(sys.modules) if (m == "genlab" or m.startswith("genlab."))
              and m not in TOOLING and not m.startswith("genlab.grader.") and not m.rsplit(".", 1)[-1].startswith("_")]
    for name in names:
        module = sys.modules.get(name)
        if module is None:
            continue
        objects[f"sys.modules[{name}]"] = id(module)
        _record(objects, name, vars(module), trusted, library)
    for module_name, cls_name in WATCHED_CLASSES:
        cls = getattr(sys.modules.get(module_name), cls_name, None)
        if cls is not None:
            objects[f"{module_name}.{cls_name}"] = id(cls)
            _record(objects, f"{module_name}.{cls_name}", vars(cls), trusted, library)
    watched = set(objects.values())
    kinds = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type)
    user, bound = {}, []
    for key, value in list(user_ns.items()):
        if key.startswith("_") or key in ("In", "Out", "exit", "quit", "get_ipython"):
            continue
        user[key] = id(value)
        if id(value) in watched and isinstance(value, kinds):
            bound.append(key)
    return {"objects": objects, "user": user, "bound": bound, "trusted": trusted}


def _library_dirs() -> tuple[str, ...]:
    """Folders of installed code (read-only in the sandbox): a function whose code lives
    there is the library's own, e.g. torch wrapping ``torch.manual_seed`` when dynamo loads."""
    import os
    import sys
    import sysconfig

    import genlab

    dirs = {sysconfig.get_paths()[k] for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    dirs |= {os.path.dirname(os.path.abspath(genlab.__file__)), sys.prefix, sys.base_prefix}
    return tuple(os.path.join(os.path.realpath(d), "") for d in dirs)


def _record(objects: dict[str, int], prefix: str, namespace: dict, trusted: list[str] | None = None,
            library: tuple[str, ...] = ()) -> None:
    import os
    import types

    for key, value in list(namespace.items()):
        if key.startswith("_") and key not in _DUNDERS:
            continue
        if not (callable(value) or isinstance(value, types.ModuleType)):
            continue  # constants and caches may change legitimately
        objects[f"{prefix}.{key}"] = id(value)
        code = getattr(value, "__code__", None)
        if isinstance(code, types.CodeType):
            objects[f"{prefix}.{key}.__code__"] = id(code)
            if trusted is not None and _is_library_file(code.co_filename, library):
                trusted += [f"{prefix}.{key}", f"{prefix}.{key}.__code__"]


_LIBRARY_FILES: dict[str, bool] = {}


def _is_library_file(filename: str, library: tuple[str, ...]) -> bool:
    import os

    if filename not in _LIBRARY_FILES:
        path = os.path.realpath(filename) if os.path.isabs(filename) else ""
        _LIBRARY_FILES[filename] = bool(path) and path.startswith(library) and os.path.isfile(path)
    return _LIBRARY_FILES[filename]


def extend(baseline: dict[str, Any], seen_user: dict[str, int], now: dict[str, Any]) -> None:
    """After a cell of the course ran: what it imported or bound becomes part of the baseline."""
    for key, ident in now["objects"].items():
        baseline["objects"].setdefault(key, ident)
    for name in now["bound"]:
        seen_user.setdefault(name, now["user"][name])


def compare(baseline: dict[str, Any], seen_user: dict[str, int], now: dict[str, Any]) -> list[str]:
    """What changed since the baseline (grader side)."""
    changes = []
    base, cur = baseline["objects"], now["objects"]
    library = set(now.get("trusted", []))
    for key, ident in base.items():
        if key in cur and cur[key] != ident and key not in library:
            changes.append(f"{key} was replaced")
        elif key not in cur and not key.endswith(".__code__") and f"sys.modules[{key.split('.')[0]}]" in cur:
            changes.append(f"{key} was deleted")
    for key in cur.keys() - base.keys():
        if key.startswith("builtins."):
            changes.append(f"{key} was added")
    for name, ident in seen_user.items():
        if name in now["user"] and now["user"][name] != ident:
            changes.append(f"the name {name!r} was rebound")
    return changes
