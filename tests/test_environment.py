"""constraints.txt pins the exact versions the course was calibrated on; `make setup` and
environment.yml install with it, and agree with pyproject.toml (docs/environment.md). They also
work on older releases of the same Python series: Debian 12's /usr/bin/python3.11 is 3.11.2."""
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
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


def _environment_python() -> str:
    """The Python series environment.yml installs ('3.11')."""
    line = next(line.strip() for line in (REPO_ROOT / "environment.yml").read_text().splitlines()
                if line.strip().startswith("- python="))
    return line.removeprefix("- python=")


def test_every_pinned_package_installs_on_every_release_of_the_python_series():
    """environment.yml's python=3.11 may be any 3.11.x, and tests/test_hub.py runs the course
    service on the system's /usr/bin/python3.11 (Debian 12: 3.11.2) with these packages. A pin
    that `make upgrade` took on a newer 3.11 but whose Requires-Python excludes older 3.11
    releases (soupsieve >= 3.0 asks for >= 3.11.5) cannot be installed there, and works there
    only as far as it happens to. The metadata read is that of the installed packages, so only
    pins installed here at their pinned version are checked."""
    oldest = f"{_environment_python()}.0"
    pins, _ = _constraints()
    checked, excluded = 0, []
    for name, version in pins.items():
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:    # platform-specific (nvidia-*, …)
            continue
        if dist.version != version:
            continue
        checked += 1
        requires = dist.metadata.get("Requires-Python")
        if requires and not SpecifierSet(requires).contains(oldest):
            excluded.append(f"{name}=={version} requires Python {requires}")
    if not checked:
        pytest.skip("no package of constraints.txt is installed here at its pinned version")
    assert not excluded, (f"constraints.txt pins packages that do not install on Python {oldest} "
                          "(Debian 12 has 3.11.2): give them an upper bound in pyproject.toml\n"
                          + "\n".join(excluded))


HTML_EXPORT = textwrap.dedent("""
    import json, platform, sys
    sys.path[:0] = json.loads(sys.argv[1])
    import nbformat, soupsieve
    from nbconvert import HTMLExporter
    image = nbformat.v4.new_output("display_data", {"image/png": "iVBORw0KGgo="})
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[image])])
    html, _ = HTMLExporter().from_notebook_node(notebook)
    print(json.dumps({"python": platform.python_version(), "soupsieve": soupsieve.__version__,
                      "soupsieve_file": soupsieve.__file__, "html": html}))
""")


def test_nbconvert_exports_html_on_the_system_python_with_the_environments_packages():
    """tests/test_hub.py runs the course service (Formgrader, its feedback) on /usr/bin/python3.X
    with this environment's packages when this environment's Python is not readable by other
    users (a pyenv Python under /root). nbconvert's HTML export (feedback, Formgrader's views,
    `make demos`) selects `img:not([alt])` with soupsieve, and soupsieve >= 3.0 compiles
    regular expressions with possessive quantifiers that Python 3.11 before 3.11.5 matches
    wrongly (CPython gh-106052): on Debian 12's 3.11.2 every export raised
    SelectorSyntaxError "Invalid character 'i' position 0". Exported here the same way."""
    series = f"python{sys.version_info.major}.{sys.version_info.minor}"
    system = shutil.which(series, path="/usr/bin:/usr/local/bin")
    if not system:
        pytest.skip(f"no /usr/bin/{series} (the system Python that tests/test_hub.py can run the "
                    "course service on): nothing to check")
    # this environment's packages (site-packages, PYTHONPATH), not its Python's standard library
    paths = [p for p in sys.path if p and os.path.isdir(p)
             and (p.endswith("site-packages") or not p.startswith(sys.base_prefix))]
    env = {**os.environ, "JUPYTER_PATH": os.path.join(sys.prefix, "share", "jupyter")}
    run = subprocess.run([system, "-s", "-c", HTML_EXPORT, json.dumps(paths)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, (f"nbconvert's HTML export fails on {system} with this environment's "
                                 f"packages:\n{run.stderr[-3000:]}")
    result = json.loads(run.stdout.splitlines()[-1])
    assert any(result["soupsieve_file"].startswith(p) for p in paths), \
        f"{system} imported soupsieve from {result['soupsieve_file']}, not from this environment"
    html = result["html"]
    # both of nbconvert's selectors matched: the image got its placeholder alt text, the input
    # and the output are focusable
    assert 'alt="No description has been provided for this image"' in html, result["python"]
    assert html.count('tabindex="0"') == 2, result["python"]
