"""The layer rule of the grader: ``genlab.grader`` may import the student library; nothing of
the student library imports the grader (a notebook's kernel never loads grading code)."""
import ast
from pathlib import Path

import genlab

PACKAGE = Path(genlab.__file__).parent
TOP = {"cli.py"}           # the command line sits above everything


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__" and node.args \
                and isinstance(node.args[0], ast.Constant):
            found.add(str(node.args[0].value))
    return found


def test_the_student_library_never_imports_the_grader():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE)
        if rel.parts[0] == "grader" or str(rel) in TOP:
            continue
        bad = sorted(m for m in _imports(path) if m == "genlab.grader" or m.startswith("genlab.grader."))
        if bad:
            offenders.append(f"{rel}: {', '.join(bad)}")
    assert not offenders, "the student library imports the grader:\n" + "\n".join(offenders)


def test_the_rule_sees_an_import_inside_a_function(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from genlab.grader.judge import Judge\n    return Judge\n")
    assert "genlab.grader.judge" in _imports(module)


# --- the layer order of the whole package (docs/architecture.md) ------------------------------
# A module may import its own layer or lower ones, at module level or inside a function. A
# module belongs to the layer of the longest name listed for it (``genlab.data.idx`` is in
# ``genlab.data``'s); ``genlab`` itself is only the package's ``__init__``. A new module must
# be placed here, or test_every_module_has_a_layer fails.
LAYERS = (
    ("student library", ("genlab", "genlab.profiles", "genlab.course", "genlab.tables", "genlab.data",
                         "genlab.viz", "genlab.train", "genlab.checks", "genlab.wire", "genlab.metrics",
                         "genlab.nets", "genlab.zoo")),
    ("topic code", ("genlab.diffusion", "genlab.t2i", "genlab.inversion")),
    # demos runs notebooks for lecturers, and genlab.grader.mutation uses its polling client;
    # scaffold writes a new topic's files (`genlab new-topic`); site builds the course site (`make site`)
    ("zoo and notebook tools", ("genlab.recipes", "genlab.export", "genlab.demos", "genlab.scaffold",
                                "genlab.site", "genlab.slides")),
    ("grader", ("genlab.grader",)),
    ("command line", ("genlab.cli",)),
)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _layer(module: str) -> int | None:
    best = None
    for index, (_, names) in enumerate(LAYERS):
        for name in names:
            if module == name or (name != "genlab" and module.startswith(name + ".")):
                if best is None or len(name) > len(best[1]):
                    best = (index, name)
    return best[0] if best else None


def _is_main_guard(node: ast.AST) -> bool:
    """``if __name__ == "__main__":``: code that runs only when the file is executed as a script."""
    test = getattr(node, "test", None)
    return (isinstance(node, ast.If) and isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__" and any(isinstance(c, ast.Constant) and c.value == "__main__"
                                                   for c in test.comparators))


def _genlab_imports(path: Path, module: str) -> set[str]:
    """The genlab modules that importing ``module`` (the file ``path``) may import, inside
    functions too; a script's ``__main__`` block is left out (it never runs on import)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names = set()
    stack = [ast.parse(path.read_text())]
    while stack:
        node = stack.pop()
        if _is_main_guard(node):
            continue
        stack.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            # `from package import module` imports that module; `from module import name`, the module
            names |= {f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names}
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "__import__" and node.args \
                and isinstance(node.args[0], ast.Constant):
            names.add(str(node.args[0].value))
    found = set()
    for name in names:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):               # the longest prefix that is a module
            if ".".join(parts[:end]) in MODULES:
                found.add(".".join(parts[:end]))
                break
    return found - {module}


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if _layer(m) is None)
    assert not missing, f"place these modules in a layer of tests/test_layers.py: {missing}"


def test_modules_import_only_their_own_layer_or_lower_ones():
    offenders = []
    for module, path in MODULES.items():
        for imported in sorted(_genlab_imports(path, module)):
            if _layer(imported) > _layer(module):
                offenders.append(f"{module} ({LAYERS[_layer(module)][0]}) imports {imported} "
                                 f"({LAYERS[_layer(imported)][0]})")
    assert not offenders, "imports that go up a layer:\n" + "\n".join(offenders)


def test_no_import_cycles():
    graph = {m: _genlab_imports(p, m) for m, p in MODULES.items()}
    cycles, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycles.append(" → ".join(path[path.index(module):] + [module]))
            return
        if module in done:
            return
        for imported in sorted(graph[module]):
            visit(imported, path + [module])
        done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert not cycles, "import cycles:\n" + "\n".join(sorted(set(cycles)))


def test_the_layer_rule_sees_hidden_imports_and_skips_a_script_block(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from genlab import cli\n    return __import__('genlab.recipes')\n"
                      "if __name__ == '__main__':\n    import genlab.export\n")
    assert _genlab_imports(module, "genlab.m") == {"genlab.cli", "genlab.recipes"}
    assert _layer("genlab.data.idx") == 0 and _layer("genlab.grader.judge") == 3 and _layer("genlab.cli") == 4
