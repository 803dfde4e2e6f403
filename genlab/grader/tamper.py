"""Find attempts to make tests pass without doing the work.

Grades do not depend on this module: test cells run in the judge, outside the student's
process (:mod:`genlab.grader.judge`), so nothing a notebook does to its own interpreter
changes a verdict. :func:`static_scan` still reads the student's cells before execution
and flags for review the rebinding of builtins and of names the released notebook imports
or defines (``check_close = ...``, ``def len(...)``), assignment to attributes of imported
modules (``torch.allclose = ...``, ``genlab.checks.check_close = ...``) and the tools for
doing that indirectly (``setattr``, ``exec``, ``sys.modules``, ``builtins``, ``gc``,
``ctypes``, IPython magics and shell escapes): an attempt, whether or not it could work, is
something an instructor wants to see.
"""
from __future__ import annotations

import ast
import builtins

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
