"""Values for zero-to-jupyterhub (the `jupyterhub` Helm chart, 4.x) that carry a course's
settings, for a class beyond one server (deploy/jupyterhub/README.md, "Beyond one server").

    python deploy/jupyterhub/z2jh.py SETTINGS.json > values.yaml
    helm upgrade --install genlab jupyterhub/jupyterhub --values values.yaml

The same SETTINGS.json as hub.py (deploy/jupyterhub/settings.example.json): roster,
instructors, course id, exchange root, start timeout; plus ``image`` and the per-student
``memory_limit``/``cpu_limit`` (the README's measured table gives their basis). The course
account becomes a hub user whose server runs Formgrader; the instructors' group may open it.
The exchange is a ReadWriteMany volume mounted in every pod at the exchange root, nbgrader's
own file exchange. Every pod runs as the same user (jovyan), so file modes no longer keep
students apart there: use ngshare for that (README). `tests/test_hub.py` checks that
z2jh-values.example.yaml is what this script makes of settings.example.json.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from hub import Settings, course_nbgrader_config, server_config, student_nbgrader_config  # noqa: E402

STUDENT_CONFIG = "/etc/genlab/jupyter-student"
COURSE_CONFIG = "/etc/genlab/jupyter-course"
PVC = "nbgrader-exchange"


def values(s: Settings) -> dict:
    group = f"formgrade-{s.course}"
    course_home = f"/home/jovyan/{s.course}"
    files = {
        "student-nbgrader": (f"{STUDENT_CONFIG}/nbgrader_config.py", student_nbgrader_config(s)),
        "student-server": (f"{STUDENT_CONFIG}/jupyter_server_config.py", server_config(s, formgrader=False)),
        "course-nbgrader": (f"{COURSE_CONFIG}/nbgrader_config.py",
                            course_nbgrader_config(Settings(**{**s.__dict__, "course_dir": course_home}))),
        "course-server": (f"{COURSE_CONFIG}/jupyter_server_config.py", server_config(s, formgrader=True)),
    }
    hook = (f"c.JupyterHub.load_groups = {{{group!r}: {{'users': {sorted(s.instructors)!r}}}}}\n"
            "def genlab_course_server(spawner):\n"
            "    # the course account's server: Formgrader in the course folder; everyone else: Assignments\n"
            f"    if spawner.user.name == {s.grader!r}:\n"
            f"        spawner.environment['JUPYTER_CONFIG_PATH'] = {COURSE_CONFIG!r}\n"
            "c.KubeSpawner.pre_spawn_hook = genlab_course_server\n")
    return {
        "hub": {
            "config": {
                "Authenticator": {"allowed_users": sorted(set(s.students) | set(s.instructors) | {s.grader}),
                                  "admin_users": sorted(s.admins)},
                "JupyterHub": {"authenticator_class": "pam" if s.authenticator == "pam" else s.authenticator},
            },
            "loadRoles": {group: {"description": f"open the {s.course} course account's Formgrader",
                                  "groups": [group],
                                  "scopes": [f"access:servers!user={s.grader}", f"read:users!user={s.grader}",
                                             f"servers!user={s.grader}"]}},
            "extraConfig": {"genlab-course": hook},
        },
        "singleuser": {
            "image": {"name": s.image.rsplit(":", 1)[0], "tag": s.image.rsplit(":", 1)[1]},
            "defaultUrl": "/lab",
            "startTimeout": s.spawn_timeout,
            "memory": {"limit": s.memory_limit, "guarantee": s.memory_guarantee},
            "cpu": {"limit": s.cpu_limit, "guarantee": s.cpu_guarantee},
            "extraEnv": {"JUPYTER_CONFIG_PATH": STUDENT_CONFIG},
            "storage": {"extraVolumes": [{"name": PVC, "persistentVolumeClaim": {"claimName": PVC}}],
                        "extraVolumeMounts": [{"name": PVC, "mountPath": s.exchange}]},
            "extraFiles": {name: {"mountPath": path, "stringData": text} for name, (path, text) in files.items()},
        },
    }


def _scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return json.dumps(value)          # a JSON string is a YAML string


def to_yaml(value, indent: int = 0) -> list[str]:
    """YAML lines for dicts, lists of scalars or dicts, strings (multi-line ones as literal
    blocks), numbers and booleans."""
    pad, lines = "  " * indent, []
    if isinstance(value, dict):
        for key, v in value.items():
            if isinstance(v, str) and "\n" in v:
                lines.append(f"{pad}{key}: |")
                lines += [f"{pad}  {line}" if line else "" for line in v.rstrip("\n").split("\n")]
            elif isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{key}:")
                lines += to_yaml(v, indent + 1)
            elif isinstance(v, (dict, list)):
                lines.append(f"{pad}{key}: {'{}' if isinstance(v, dict) else '[]'}")
            else:
                lines.append(f"{pad}{key}: {_scalar(v)}")
    else:
        for v in value:
            if isinstance(v, dict):
                sub = to_yaml(v, indent + 1)
                lines.append(f"{pad}- {sub[0].lstrip()}")
                lines += sub[1:]
            else:
                lines.append(f"{pad}- {_scalar(v)}")
    return lines


def render(s: Settings, source: str) -> str:
    return (f"# zero-to-jupyterhub values for the genlab course {s.course!r}, made by\n"
            f"#   python deploy/jupyterhub/z2jh.py {source}\n"
            "# from the settings hub.py uses on one server (deploy/jupyterhub/README.md, \"Beyond one server\").\n"
            f"# Needs a ReadWriteMany PersistentVolumeClaim named {PVC!r} for the exchange.\n"
            + "\n".join(to_yaml(values(s))) + "\n")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    sys.stdout.write(render(Settings.load(argv[0]), argv[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
