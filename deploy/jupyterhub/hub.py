"""Set up and start a JupyterHub for one genlab course on one server (run as root).

    python deploy/jupyterhub/hub.py setup SETTINGS.json   # exchange, course account, course folder, configs
    python deploy/jupyterhub/hub.py start SETTINGS.json   # the hub (and its proxy and course service)
    python deploy/jupyterhub/hub.py demo --students 3     # `make hub`: demo users, setup, start

SETTINGS.json holds the fields of :class:`Settings` (deploy/jupyterhub/settings.example.json);
jupyterhub_config.py reads the same file. deploy/jupyterhub/README.md explains each step.
Only the standard library is used here: the hub's config imports this file.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pwd
import secrets
import shutil
import stat
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent


@dataclasses.dataclass
class Settings:
    course: str = "genlab"
    students: list[str] = dataclasses.field(default_factory=list)
    instructors: list[str] = dataclasses.field(default_factory=list)
    admins: list[str] = dataclasses.field(default_factory=list)   # hub admins: may open every server
    topics: list[str] = dataclasses.field(default_factory=lambda: ["01-autoencoders-pca"])
    ip: str = "127.0.0.1"                 # the public address; 0.0.0.0 only behind TLS
    port: int = 8000
    hub_port: int = 8081                  # the hub's own API, loopback only
    proxy_api_port: int = 8001            # configurable-http-proxy's API, loopback only
    service_port: int = 9999              # the course's Formgrader service, loopback only
    state_dir: str = "/srv/genlab-hub"    # hub database, cookie secret, generated Jupyter configs
    exchange: str = "/srv/nbgrader/exchange"
    grader: str = ""                      # the course's OS account; default grader-<course>
    course_dir: str = ""                  # default /home/<grader>/<course>
    environment: str = sys.prefix         # the Python environment with genlab, JupyterLab, nbgrader
    repo: str = str(REPO)                 # the genlab checkout the course folder is filled from
    authenticator: str = "pam"            # or e.g. "native", "ltiauthenticator.lti13.authenticator.LTI13Authenticator"
    spawn_timeout: int = 120              # seconds a server may take to start on a busy machine
    # users' servers stop a kernel idle this long (seconds; 0: never), also one with its notebook
    # open in a browser tab unless cull_connected_kernels is false (README, "How many students")
    cull_idle_kernels_s: int = 3600
    cull_connected_kernels: bool = True
    # beyond one server (z2jh.py): the image with the course environment, and each student's
    # pod's limits (README, "How many students one server holds", gives their basis)
    image: str = "registry.example.org/genlab-course:0.1.0"
    memory_limit: str = "2G"
    memory_guarantee: str = "1G"
    cpu_limit: float = 2.0
    cpu_guarantee: float = 0.5

    def __post_init__(self):
        self.grader = self.grader or f"grader-{self.course}"
        self.course_dir = self.course_dir or f"/home/{self.grader}/{self.course}"
        overlap = set(self.students) & (set(self.instructors) | {self.grader})
        if overlap:
            raise SystemExit(f"a student cannot also be an instructor or the course account: {sorted(overlap)}")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Settings:
        data = json.loads(Path(path).read_text())
        unknown = set(data) - {f.name for f in dataclasses.fields(cls)}
        if unknown:
            raise SystemExit(f"{path}: unknown settings {sorted(unknown)}")
        return cls(**data)

    def save(self, path: str | os.PathLike) -> None:
        Path(path).write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @property
    def hub_dir(self) -> str:
        """The hub's database, cookie secret and pid files: root only."""
        return os.path.join(self.state_dir, "hub")

    @property
    def student_config(self) -> str:
        """JUPYTER_CONFIG_PATH of the students' and instructors' own servers."""
        return os.path.join(self.state_dir, "jupyter-student")

    @property
    def course_config(self) -> str:
        """JUPYTER_CONFIG_PATH of the course service (Formgrader)."""
        return os.path.join(self.state_dir, "jupyter-course")

    @property
    def python(self) -> str:
        """The environment's interpreter: every command runs as ``python -m`` (no script's
        shebang to go stale when the environment moves)."""
        return os.path.join(self.environment, "bin", "python")


# ---------------------------------------------------------------- what the hub's config uses

def _path_env(s: Settings) -> str:
    return os.pathsep.join([os.path.join(s.environment, "bin"), "/usr/local/bin", "/usr/bin", "/bin"])


def student_env(s: Settings) -> dict[str, str]:
    """Environment of every user's server: the genlab environment first on PATH, and the
    course's Jupyter config (exchange, course id, no Formgrader)."""
    return {"PATH": _path_env(s), "JUPYTER_CONFIG_PATH": s.student_config, "VIRTUAL_ENV": s.environment}


def course_service(s: Settings) -> dict:
    """The course's server: Formgrader in the course folder, run as the course's account."""
    return {
        "name": s.course,
        "url": f"http://127.0.0.1:{s.service_port}",
        "command": [s.python, "-m", "jupyterhub.singleuser"],
        "user": s.grader,
        "cwd": s.course_dir,
        "oauth_no_confirm": True,
        "timeout": s.spawn_timeout,       # JupyterHub 6: how long the hub waits for it to answer
        "environment": {"JUPYTERHUB_DEFAULT_URL": "/lab", "PATH": _path_env(s),
                        "JUPYTER_CONFIG_PATH": s.course_config, "VIRTUAL_ENV": s.environment},
    }


# ---------------------------------------------------------------- setting up the machine

def _run(*cmd: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def ensure_user(name: str, password: str | None = None) -> pwd.struct_passwd:
    """A local account with a private home (0700: no one else may read a student's work)."""
    if not user_exists(name):
        _run("useradd", "--create-home", "--user-group", "--shell", "/bin/bash", name)
    if password is not None:
        _run("chpasswd", input=f"{name}:{password}\n")
    entry = pwd.getpwnam(name)
    os.chmod(entry.pw_dir, 0o700)
    return entry


def _write(path: str | os.PathLike, text: str, mode: int = 0o644, owner: pwd.struct_passwd | None = None) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)
    if owner:
        os.chown(path, owner.pw_uid, owner.pw_gid)


def _chown_tree(path: Path, owner: pwd.struct_passwd) -> None:
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
            os.lchown(name, owner.pw_uid, owner.pw_gid)


def setup_exchange(s: Settings, grader: pwd.struct_passwd) -> None:
    """nbgrader's exchange: the root world-writable with the sticky bit (what nbgrader
    checks for), the course's folder made here, owned by the course account, so that no
    student can create it first and own the inbound folder. nbgrader's release makes
    outbound/ (0755) and inbound/ (2733: students write, only the course reads)."""
    root = Path(s.exchange)
    root.mkdir(parents=True, exist_ok=True)
    os.chown(root, 0, 0)
    os.chmod(root, 0o1777)
    course = root / s.course
    if not course.exists():
        course.mkdir()
        os.chown(course, grader.pw_uid, grader.pw_gid)
    st = course.stat()
    if st.st_uid != grader.pw_uid:
        raise SystemExit(f"{course} belongs to uid {st.st_uid}, not to the course account {s.grader}: "
                         "someone created it before the course; move it away and run setup again")
    os.chmod(course, 0o755)


def course_nbgrader_config(s: Settings) -> str:
    """The course folder keeps nbgrader's default layout (gradebook.db, submitted/, autograded/,
    feedback/): `genlab grade --course` grades into it, so Formgrader shows its grades. Feedback
    generated from Formgrader (after grading written answers) strips the hidden tests and the
    grader's notes as `genlab grade`'s own does."""
    return (f'"""nbgrader settings of the course {s.course} (written by deploy/jupyterhub/hub.py setup)."""\n'
            "from genlab.grader.rubric import FEEDBACK_PREPROCESSORS\n\n"
            "c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.root = {s.course_dir!r}\n"
            f"c.CourseDirectory.course_id = {s.course!r}\n"
            f"c.Exchange.root = {s.exchange!r}\n"
            "c.Exchange.timezone = 'UTC'\n"
            "c.GenerateFeedback.preprocessors = list(FEEDBACK_PREPROCESSORS)\n")


def student_nbgrader_config(s: Settings) -> str:
    return ('"""nbgrader settings of every user\'s server (written by deploy/jupyterhub/hub.py setup)."""\n'
            "c = get_config()  # noqa: F821\n"
            f"c.CourseDirectory.course_id = {s.course!r}\n"
            f"c.Exchange.root = {s.exchange!r}\n"
            "c.Exchange.timezone = 'UTC'\n")


def server_config(s: Settings, *, formgrader: bool) -> str:
    """jupyter_server_config.py of the users' servers (no Formgrader: it is the course
    service's; idle kernels culled) or of the course service (Formgrader, no assignment list)."""
    extensions = {"formgrader": formgrader, "assignment_list": not formgrader, "course_list": not formgrader,
                  "validate_assignment": True}
    lines = [f'"""{"The course service" if formgrader else "Students and instructors"}: written by '
             'deploy/jupyterhub/hub.py setup."""', "c = get_config()  # noqa: F821",
             "c.ServerApp.jpserver_extensions = {"]
    lines += [f'    "nbgrader.server_extensions.{name}": {on},' for name, on in extensions.items()]
    lines.append("}")
    if formgrader:   # Formgrader shows notebooks in frames of its own pages
        headers = {"Content-Security-Policy": "frame-ancestors 'self'"}
        lines.append(f"c.ServerApp.tornado_settings = {{'headers': {headers!r}}}")
    elif s.cull_idle_kernels_s > 0:
        # a kernel that has run a notebook holds its tensors (~650 MiB after topic 01) until it stops
        lines += ["# stop kernels idle this long; a busy kernel (a cell running) is never stopped",
                  f"c.MappingKernelManager.cull_idle_timeout = {int(s.cull_idle_kernels_s)}",
                  f"c.MappingKernelManager.cull_interval = {max(1, min(300, int(s.cull_idle_kernels_s) // 2))}",
                  f"c.MappingKernelManager.cull_connected = {bool(s.cull_connected_kernels)}",
                  "c.MappingKernelManager.cull_busy = False"]
    return "\n".join(lines) + "\n"


def setup_course(s: Settings) -> None:
    """The course folder, nbgrader's source/ and release/ of each topic copied from the
    genlab checkout (release/ is what `genlab release` generated), private to the course."""
    grader = pwd.getpwnam(s.grader)
    root = Path(s.course_dir)
    root.mkdir(parents=True, exist_ok=True)
    for topic in s.topics:
        for kind, folder in (("source", "solutions"), ("release", "assignments")):
            src = Path(s.repo) / folder / topic
            if not (src / f"{topic}.ipynb").is_file():
                raise SystemExit(f"{src / (topic + '.ipynb')} not found: is {s.repo} a genlab checkout?")
            dest = root / kind / topic
            if dest.exists():
                shutil.rmtree(dest)
            shutil.copytree(src, dest)
    _write(root / "nbgrader_config.py", course_nbgrader_config(s))
    _chown_tree(root, grader)
    os.chmod(root, 0o700)


def setup(s: Settings) -> None:
    """Everything a course needs on this machine; safe to run again."""
    if os.geteuid() != 0:
        raise SystemExit("setup creates accounts and folders for other users: run it as root")
    grader = ensure_user(s.grader)
    for name in s.instructors + s.students:
        ensure_user(name)
    setup_exchange(s, grader)
    setup_course(s)
    state = Path(s.state_dir)
    state.mkdir(parents=True, exist_ok=True)
    os.chmod(state, 0o755)
    Path(s.hub_dir).mkdir(exist_ok=True)
    os.chmod(s.hub_dir, 0o700)
    _write(Path(s.student_config) / "nbgrader_config.py", student_nbgrader_config(s))
    _write(Path(s.student_config) / "jupyter_server_config.py", server_config(s, formgrader=False))
    _write(Path(s.student_config) / "labconfig" / "page_config.json", json.dumps({"disabledExtensions": {
        "@jupyter/nbgrader:formgrader": True, "@jupyter/nbgrader:create-assignment": True}}, indent=2) + "\n")
    _write(Path(s.course_config) / "nbgrader_config.py", course_nbgrader_config(s))
    _write(Path(s.course_config) / "jupyter_server_config.py", server_config(s, formgrader=True))
    for warning in check(s):
        print(f"WARNING: {warning}", file=sys.stderr)


def check(s: Settings) -> list[str]:
    """What would let a student read what they should not, or stop the hub from starting."""
    problems = []
    found = subprocess.run([s.python, "-c", "import jupyterhub, nbgrader, jupyterlab"], capture_output=True, text=True)
    if found.returncode:
        problems.append(f"{s.python} cannot import jupyterhub, nbgrader and jupyterlab: "
                        f"pip install -c constraints.txt -e '.[dev]' there ({found.stderr.strip()[-200:]})")
    if not _usable_by_others(Path(os.path.realpath(s.python))):
        problems.append(f"{s.python} (really {os.path.realpath(s.python)}) cannot be run by other users, so no "
                        "student's server can start: put the course environment where every user can read it "
                        "(e.g. python3 -m venv /opt/genlab), not under /root")
    if not (shutil.which("configurable-http-proxy")):
        problems.append("configurable-http-proxy is not on PATH: apt-get install node-configurable-http-proxy "
                        "(or npm install -g configurable-http-proxy)")
    found = subprocess.run([s.python, "-c", "import genlab, os; print(os.path.dirname(genlab.__file__))"],
                           capture_output=True, text=True)
    solutions = Path(found.stdout.strip()).parent / "solutions"
    if found.returncode == 0 and solutions.is_dir() and _usable_by_others(solutions):
        problems.append(f"students' servers import genlab from a checkout whose {solutions} any user can read: "
                        "install genlab into the course environment with `pip install .` (not -e), or make "
                        "the checkout private (chmod 700)")
    return problems


def _usable_by_others(path: Path) -> bool:
    """Whether a user outside the owner's group could read (a folder: list; a file: run) ``path``."""
    if not all(p.stat().st_mode & stat.S_IXOTH for p in path.parents):
        return False
    return bool(path.stat().st_mode & stat.S_IROTH)


def hub_command(s: Settings) -> list[str]:
    return [s.python, "-m", "jupyterhub", "-f", str(HERE / "jupyterhub_config.py")]


def hub_env(settings_path: str | os.PathLike, s: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ, GENLAB_HUB_SETTINGS=str(Path(settings_path).resolve()), **extra)
    env["PATH"] = os.pathsep.join([os.path.join(s.environment, "bin"), env.get("PATH", "/usr/bin:/bin")])
    return env


def start(settings_path: str | os.PathLike) -> None:
    s = Settings.load(settings_path)
    os.umask(0o077)      # the hub's database and logs: root only
    os.chdir(s.hub_dir)
    os.execve(hub_command(s)[0], hub_command(s), hub_env(settings_path, s))


def demo(students: int, port: int, state_dir: str) -> None:
    """A course with one instructor and N students, each with a random password, then the hub."""
    s = Settings(students=[f"student{i}" for i in range(1, students + 1)], instructors=["instructor1"],
                 port=port, state_dir=state_dir, exchange=os.path.join(state_dir, "exchange"))
    Path(state_dir).mkdir(parents=True, exist_ok=True)
    setup(s)
    lines = []
    for name in s.instructors + s.students:
        password = secrets.token_urlsafe(9)
        ensure_user(name, password)
        lines.append(f"{name}\t{password}")
    _write(Path(s.hub_dir) / "passwords.txt", "\n".join(lines) + "\n", mode=0o600)
    settings_path = Path(state_dir) / "settings.json"
    s.save(settings_path)
    print(f"demo course {s.course}: log in at http://{s.ip}:{s.port}/ as\n" + "\n".join(lines)
          + f"\n(passwords also in {Path(s.hub_dir) / 'passwords.txt'}; the instructor's Formgrader is at "
          f"/services/{s.course}/)", flush=True)
    start(settings_path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    for name in ("setup", "start", "check"):
        sub.add_parser(name).add_argument("settings")
    d = sub.add_parser("demo", help="demo users (random passwords), set up and start")
    d.add_argument("--students", type=int, default=3)
    d.add_argument("--port", type=int, default=8000)
    d.add_argument("--state-dir", default="/srv/genlab-hub/demo")
    args = parser.parse_args(argv)
    if args.cmd == "setup":
        setup(Settings.load(args.settings))
    elif args.cmd == "check":
        problems = check(Settings.load(args.settings))
        print("\n".join(problems) or "ok")
        return 1 if problems else 0
    elif args.cmd == "start":
        start(args.settings)
    else:
        demo(args.students, args.port, args.state_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
