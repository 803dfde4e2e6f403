"""constraints.txt pins the exact versions the course was calibrated on; `make setup` and
environment.yml install with it, and agree with pyproject.toml (docs/environment.md)."""
import re

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from genlab.course import REPO_ROOT

try:
    import tomllib
except ModuleNotFoundError:                      # Python 3.10
    tomllib = pytest.importorskip("tomli")

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)$")
CALIBRATED_ON = ("torch", "torchvision", "numpy", "nbgrader")


def _constraints() -> tuple[dict[str, str], list[str]]:
    pins, comments = {}, []
    for line in (REPO_ROOT / "constraints.txt").read_text().splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            comments.append(line)
            continue
        match = PIN.match(line)
        assert match, f"constraints.txt: {line!r} is not an exact pin name==version"
        name = canonicalize_name(match.group(1))
        assert name not in pins, f"constraints.txt pins {name} twice"
        pins[name] = match.group(2)
    return pins, comments


def test_every_line_is_an_exact_pin_and_the_calibrated_packages_are_pinned():
    pins, _ = _constraints()
    missing = [name for name in CALIBRATED_ON if name not in pins]
    assert not missing, f"constraints.txt does not pin {missing}"
    assert "genlab" not in pins, "the editable genlab itself stays out of constraints.txt"


def test_every_dependency_of_pyproject_is_pinned_within_its_bounds():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    pins, _ = _constraints()
    wrong = []
    extras = project["optional-dependencies"]
    specs = project["dependencies"] + extras["dev"]
    for spec in list(specs):                     # dev names other extras of genlab itself: genlab[site]
        requirement = Requirement(spec)
        if canonicalize_name(requirement.name) == "genlab":
            specs.remove(spec)
            specs += [s for extra in requirement.extras for s in extras[extra]]
    for spec in specs:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        if name not in pins:
            wrong.append(f"{requirement.name} is not pinned")
        elif not requirement.specifier.contains(pins[name], prereleases=True):
            wrong.append(f"{requirement.name}=={pins[name]} does not satisfy pyproject's {spec!r}")
    assert not wrong, "constraints.txt and pyproject.toml disagree:\n" + "\n".join(wrong)


def test_environment_yml_installs_with_the_same_constraints_and_python():
    yaml = pytest.importorskip("yaml")
    env = yaml.safe_load((REPO_ROOT / "environment.yml").read_text())
    deps = env["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    assert pip[0] == "-c constraints.txt", "environment.yml's pip section must start with -c constraints.txt"
    assert "-e .[dev]" in pip
    assert all(p.startswith("-") for p in pip), "environment.yml names no package: versions are in constraints.txt"
    python = next(d for d in deps if isinstance(d, str) and d.startswith("python="))
    _, comments = _constraints()
    frozen = next((c for c in comments if c.startswith("# frozen on Python ")), None)
    assert frozen, "constraints.txt says which Python it was frozen on ('# frozen on Python X.Y.Z …')"
    version = frozen.split()[4]
    assert version.startswith(python.removeprefix("python=") + "."), \
        f"environment.yml asks for {python}, constraints.txt was frozen on Python {version}"


def test_make_setup_installs_with_the_constraints_and_make_upgrade_refreezes_them():
    makefile = (REPO_ROOT / "Makefile").read_text()
    setup = makefile[makefile.index("$(STAMP):"):makefile.index("upgrade:")]
    assert "pip install --quiet -c constraints.txt -e '.[dev]'" in setup
    assert "constraints.txt" in setup.splitlines()[0], "the venv is reinstalled when constraints.txt changes"
    upgrade = makefile[makefile.index("upgrade:"):]
    assert "pip freeze --exclude-editable" in upgrade and "constraints.txt" in upgrade
