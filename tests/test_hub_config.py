"""The course's settings carried beyond one server: deploy/jupyterhub/z2jh.py makes the
zero-to-jupyterhub values from the same settings file as hub.py (no hub is started here)."""
import importlib.util
import json
import sys

import yaml

from genlab.course import REPO_ROOT

HERE = REPO_ROOT / "deploy" / "jupyterhub"
_spec = importlib.util.spec_from_file_location("genlab_z2jh", HERE / "z2jh.py")
z2jh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(z2jh)
sys.modules.setdefault("genlab_z2jh", z2jh)


def test_the_shipped_values_are_what_the_settings_make():
    made = z2jh.render(z2jh.Settings.load(HERE / "settings.example.json"),
                       "deploy/jupyterhub/settings.example.json")
    shipped = (HERE / "z2jh-values.example.yaml").read_text()
    assert shipped == made, "run: python deploy/jupyterhub/z2jh.py deploy/jupyterhub/settings.example.json " \
                            "> deploy/jupyterhub/z2jh-values.example.yaml"


def test_the_values_carry_the_course_settings():
    settings = json.loads((HERE / "settings.example.json").read_text())
    s = z2jh.Settings(**{**settings, "course": "ml101", "grader": "", "course_dir": "", "exchange": "/mnt/ex",
                         "instructors": ["ta1", "ta2"], "students": ["s1"], "memory_limit": "3G",
                         "image": "reg/img:2.0"})
    values = yaml.safe_load(z2jh.render(s, "x.json"))
    single, hub = values["singleuser"], values["hub"]
    assert single["storage"]["extraVolumeMounts"][0]["mountPath"] == "/mnt/ex"
    assert single["memory"]["limit"] == "3G" and single["image"] == {"name": "reg/img", "tag": "2.0"}
    files = {f["mountPath"]: f["stringData"] for f in single["extraFiles"].values()}
    student = files[f"{z2jh.STUDENT_CONFIG}/nbgrader_config.py"]
    assert "course_id = 'ml101'" in student and "Exchange.root = '/mnt/ex'" in student
    assert '"nbgrader.server_extensions.formgrader": False' in files[f"{z2jh.STUDENT_CONFIG}/jupyter_server_config.py"]
    assert '"nbgrader.server_extensions.formgrader": True' in files[f"{z2jh.COURSE_CONFIG}/jupyter_server_config.py"]
    assert single["extraEnv"]["JUPYTER_CONFIG_PATH"] == z2jh.STUDENT_CONFIG
    assert set(hub["config"]["Authenticator"]["allowed_users"]) == {"s1", "ta1", "ta2", "grader-ml101"}
    role = hub["loadRoles"]["formgrade-ml101"]
    assert role["groups"] == ["formgrade-ml101"] and "access:servers!user=grader-ml101" in role["scopes"]
    hook = hub["extraConfig"]["genlab-course"]
    assert "['ta1', 'ta2']" in hook and "'grader-ml101'" in hook
    compile(hook, "extraConfig", "exec")        # the hub runs it as Python


def _load(text: str, tmp_path, name: str):
    """A config file as Jupyter loads it: run by traitlets, its values read back."""
    from traitlets.config.loader import PyFileConfigLoader

    (tmp_path / name).write_text(text)
    return PyFileConfigLoader(name, path=str(tmp_path)).load_config()


def test_students_servers_cull_idle_kernels_as_the_settings_say(tmp_path):
    from jupyter_server.services.kernels.kernelmanager import AsyncMappingKernelManager

    example = z2jh.Settings.load(HERE / "settings.example.json")
    assert (example.cull_idle_kernels_s, example.cull_connected_kernels) == (3600, True)
    s = z2jh.Settings(cull_idle_kernels_s=900, cull_connected_kernels=False)
    config = _load(z2jh.server_config(s, formgrader=False), tmp_path, "jupyter_server_config.py")
    manager = AsyncMappingKernelManager(config=config)      # the class a student's server runs
    assert (manager.cull_idle_timeout, manager.cull_interval, manager.cull_connected, manager.cull_busy) == (
        900, 300, False, False)
    # 0 turns it off: no culling configured, jupyter_server's default (never) holds
    off = _load(z2jh.server_config(z2jh.Settings(cull_idle_kernels_s=0), formgrader=False), tmp_path, "off.py")
    assert AsyncMappingKernelManager(config=off).cull_idle_timeout == 0
    # the course service (Formgrader) is not a student's server: its kernels are left alone
    course = _load(z2jh.server_config(s, formgrader=True), tmp_path, "course.py")
    assert "cull_idle_timeout" not in course.get("MappingKernelManager", {})


def test_feedback_from_the_hubs_formgrader_strips_what_genlab_grade_strips(tmp_path):
    from genlab.grader.rubric import FEEDBACK_PREPROCESSORS

    s = z2jh.Settings(course="ml101", course_dir=str(tmp_path / "ml101"))
    config = _load(z2jh.course_nbgrader_config(s), tmp_path, "nbgrader_config.py")
    assert config.GenerateFeedback.preprocessors == list(FEEDBACK_PREPROCESSORS)
    assert config.CourseDirectory.course_id == "ml101" and config.CourseDirectory.root == str(tmp_path / "ml101")
    # nbgrader's default layout: gradebook.db, autograded/ and feedback/ where `genlab grade --course` writes
    assert not {"db_url", "autograded_directory", "feedback_directory"} & set(config.CourseDirectory)
