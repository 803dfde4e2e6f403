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
