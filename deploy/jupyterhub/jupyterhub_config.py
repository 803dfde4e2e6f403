"""JupyterHub for one genlab course on one server (deploy/jupyterhub/README.md).

Every setting comes from the JSON file named by ``GENLAB_HUB_SETTINGS``, written by
``hub.py setup`` (``make hub`` runs a demo): the same file drives the machine's set-up and
this hub, so the two cannot disagree. Start it with ``python deploy/jupyterhub/hub.py start``.
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hub import Settings, course_service, student_env  # noqa: E402 - this folder is put on the path above

c = get_config()  # noqa: F821 - provided by traitlets when JupyterHub loads this file

s = Settings.load(os.environ["GENLAB_HUB_SETTINGS"])

# ------------------------------------------------------------------ network: loopback unless asked
c.JupyterHub.bind_url = f"http://{s.ip}:{s.port}"
c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{s.hub_port}"
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{s.proxy_api_port}"
c.ConfigurableHTTPProxy.pid_file = os.path.join(s.hub_dir, "proxy.pid")
if os.path.isdir("/usr/share/nodejs"):
    # Debian's node-configurable-http-proxy keeps its modules there; a nodejs that is not
    # Debian's own (NodeSource) does not look there unless told
    os.environ["NODE_PATH"] = os.pathsep.join(p for p in ("/usr/share/nodejs", os.environ.get("NODE_PATH")) if p)

# ------------------------------------------------------------------ the hub's own state: private
c.JupyterHub.db_url = f"sqlite:///{os.path.join(s.hub_dir, 'jupyterhub.sqlite')}"
c.JupyterHub.cookie_secret_file = os.path.join(s.hub_dir, "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = os.path.join(s.hub_dir, "jupyterhub.pid")

# ------------------------------------------------------------------ who may log in
# Real local users, each with their own system password (PAM): nbgrader files a submission
# under the OS user that made it, and each student's server runs as that student.
# JupyterHub's shared-password authenticator is not offered: anyone holding the password
# can log in as any student. LTI (an LMS login) and NativeAuthenticator are documented in
# the README of this folder.
if s.authenticator == "pam":
    c.JupyterHub.authenticator_class = "pam"
    c.PAMAuthenticator.open_sessions = False
else:
    c.JupyterHub.authenticator_class = s.authenticator
c.Authenticator.allowed_users = set(s.instructors) | set(s.students)
c.Authenticator.admin_users = set(s.admins)
c.Authenticator.delete_invalid_users = True

# ------------------------------------------------------------------ student servers
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [s.python, "-m", "jupyterhub.singleuser"]
c.Spawner.default_url = "/lab"
c.Spawner.notebook_dir = "~"
c.Spawner.environment = student_env(s)
c.Spawner.start_timeout = s.spawn_timeout
c.Spawner.http_timeout = s.spawn_timeout
c.LocalProcessSpawner.shell_cmd = []
c.JupyterHub.shutdown_on_logout = False
c.JupyterHub.cleanup_servers = True

# ------------------------------------------------------------------ the course: Formgrader as a service
# As nbgrader's "one class, multiple graders" demo: the course's own OS account runs a
# server in the course directory; instructors reach it through the group formgrade-<course>.
c.JupyterHub.services = [course_service(s)]
group = f"formgrade-{s.course}"
c.JupyterHub.load_groups = {group: {"users": list(s.instructors)}}
c.JupyterHub.load_roles = [
    {"name": group, "groups": [group],
     "scopes": [f"access:services!service={s.course}", "list:services", f"read:services!service={s.course}"]},
    # nbgrader's course list asks the hub which courses the user may grade, with the server's token
    {"name": "server", "scopes": ["inherit"]},
]
token = os.environ.get("GENLAB_HUB_API_TOKEN")
if token:
    # an admin token for automation (the tests, a script that starts servers); off unless set
    c.JupyterHub.services.append({"name": "genlab-admin", "api_token": token})
    c.JupyterHub.load_roles.append({"name": "admin", "services": ["genlab-admin"]})

c.JupyterHub.log_level = os.environ.get("GENLAB_HUB_LOG_LEVEL", "INFO")
print(f"genlab hub: course {s.course}, {len(s.students)} students, exchange {s.exchange}; settings "
      + json.dumps(os.environ["GENLAB_HUB_SETTINGS"]), file=sys.stderr)
