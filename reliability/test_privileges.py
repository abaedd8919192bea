"""Privileges: daemon uid, gid and supplementary groups exactly as configured (the
CVE-2014-0240 and CVE-2014-8583 scenarios), the daemon refuses to run as root, the socket
files are not connectable by another local user, and a virtual host cannot use a process
group it is not allowed to."""

import grp
import json
import os
import pwd
import subprocess

import pytest

from gateway import httpd
from . import harness
from .harness import request
from .sites import PRIV_GROUP, PRIV_SUPPLEMENTARY

OTHER_USER = "nobody"


@pytest.fixture(scope="module")
def priv_groups():
    """The groups the ident daemon is configured with; created for this run, removed after."""
    if os.geteuid() != 0:
        pytest.skip("privilege tests need root (Apache must start as root to switch users)")
    made = []
    for name in (PRIV_GROUP,) + PRIV_SUPPLEMENTARY:
        try:
            grp.getgrnam(name)
        except KeyError:
            subprocess.run(["groupadd", "--system", name], check=True)
            made.append(name)
    yield dict((n, grp.getgrnam(n).gr_gid) for n in (PRIV_GROUP,) + PRIV_SUPPLEMENTARY)
    for name in made:
        subprocess.run(["groupdel", name])


def _whoami(srv, path):
    st, _, body = request(srv.port, path + "/whoami", timeout=20)
    assert st == 200, "%s/whoami gave %s: %s" % (path, st, body[:300])
    return json.loads(body)


def _ids(status_line):
    return [int(x) for x in status_line]


def test_daemon_identity_exactly_as_configured(env, servers, priv_groups, figures, bars):
    srv = servers(env, "rel-priv")
    user = httpd.child_user()[0]
    pw = pwd.getpwnam(user)
    want_user_groups = sorted({pw.pw_gid} | {g.gr_gid for g in grp.getgrall() if user in g.gr_mem})
    cases = {
        # CVE-2014-8583: group and supplementary groups must be dropped to exactly the configured ones
        "ident": (pw.pw_uid, priv_groups[PRIV_GROUP],
                  sorted([priv_groups[PRIV_GROUP]] + [priv_groups[g] for g in PRIV_SUPPLEMENTARY])),
        # user= alone: the user's own groups (initgroups), none of root's
        "plain": (pw.pw_uid, pw.pw_gid, want_user_groups),
        # no user=: Apache's User/Group
        "default": (pw.pw_uid, pw.pw_gid, want_user_groups),
    }
    for name, (uid, gid, groups) in cases.items():
        who = _whoami(srv, "/" + name)
        st = who["status"]
        got = {"uid": _ids(st["Uid"]), "gid": _ids(st["Gid"]),
               "groups": sorted(int(g) for g in st.get("Groups", []))}
        figures[name] = dict(got, configured={"uid": uid, "gid": gid, "groups": groups})
        # CVE-2014-0240: real, effective, saved and filesystem ids all dropped (no way back to root)
        bars.check("%s uid real/effective/saved/fs = %d" % (name, uid), got["uid"] == [uid] * 4, str(got["uid"]))
        bars.check("%s gid real/effective/saved/fs = %d" % (name, gid), got["gid"] == [gid] * 4, str(got["gid"]))
        # Python's getgroups() may add the egid; the kernel's list is what matters
        bars.check("%s supplementary groups exactly %s" % (name, groups),
                   sorted(set(got["groups"]) - {gid}) == sorted(set(groups) - {gid}) and 0 not in got["groups"],
                   str(got["groups"]))
        esc = json.loads(request(srv.port, "/%s/escalate" % name, timeout=20)[2])
        figures[name]["escalation"] = esc
        bars.check("%s cannot regain root" % name, all(v.startswith("refused") for v in esc.values()), str(esc))
    # No process of the server but the parent runs as root (daemons and children dropped).
    parent = srv.proc.pid
    as_root = [p for p in srv.pids() if p != parent and harness.proc_status(p).get("Uid", ["0"])[1] == "0"]
    figures["processes_running_as_root_besides_parent"] = len(as_root)
    bars.check("no child or daemon runs as root", not as_root, str(as_root))
    bars.enforce(env)


@pytest.mark.parametrize("site", ["rel-root", "rel-root-uid"])
def test_daemon_refuses_root(env, servers, workdir, site, figures, bars):
    refused_at_config, served_as = None, None
    try:
        srv = servers(env, site)
    except httpd.ConfigError as e:
        refused_at_config = e.output.strip().splitlines()[-1][:300] if e.output.strip() else str(e)[:300]
    except httpd.HttpdError as e:
        refused_at_config = str(e)[:300]
    else:
        try:
            st, _, body = request(srv.port, "/root/whoami", timeout=20)
            served_as = json.loads(body)["euid"] if st == 200 else "status %d" % st
        except (OSError, ValueError) as e:
            served_as = "error %s" % e
        as_root = [p for p in srv.pids() if p != srv.proc.pid
                   and harness.proc_status(p).get("Uid", ["1"])[1] == "0"]
        figures["processes_running_as_root_besides_parent"] = len(as_root)
    figures["refused_at_config"] = refused_at_config
    figures["request_served_as_euid"] = served_as
    bars.check("daemon never runs as root", served_as != 0, "served as euid %s" % served_as)
    bars.check("refused with a clear message", bool(refused_at_config) and "root" in refused_at_config,
               str(refused_at_config))
    bars.enforce(env)


_CONNECT = r"""
import json, os, socket, sys
out = {}
for path in sys.argv[1:]:
    s = socket.socket(socket.AF_UNIX)
    try:
        s.connect(path)
        out[path] = "connected"
    except OSError as e:
        out[path] = "refused: %s" % (e.strerror or e)
    finally:
        s.close()
print(json.dumps(out))
"""


def test_socket_not_connectable_by_other_user(env, servers, figures, bars):
    srv = servers(env, "rel-priv")
    request(srv.port, "/default/hello", timeout=20)
    socks = srv.socket_files()
    figures["socket_files"] = len(socks)
    assert socks, "no daemon socket file found under %s" % (srv.root / "run")
    pw = pwd.getpwnam(OTHER_USER)
    out = subprocess.run(["/usr/bin/python3", "-c", _CONNECT] + socks, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, universal_newlines=True, timeout=30,
                         user=pw.pw_uid, group=pw.pw_gid, extra_groups=[], env={"PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    modes = dict((p, oct(os.stat(p).st_mode & 0o777)) for p in socks)
    figures["connect_as_%s" % OTHER_USER] = list(result.values())
    figures["socket_modes"] = sorted(set(modes.values()))
    bars.check("%s cannot connect to any daemon socket" % OTHER_USER,
               all(v.startswith("refused") for v in result.values()), str(result))
    bars.enforce(env)


def test_restricted_process_group_refused(env, servers, figures, bars):
    srv = servers(env, "rel-restrict")
    own = request(srv.port, "/own/whoami", host="a.test", timeout=20)
    allowed = request(srv.port, "/allowed/whoami", host="a.test", timeout=20)
    off = srv.log_size()
    restricted = request(srv.port, "/restricted/whoami", host="a.test", timeout=20)
    stolen = request(srv.port, "/steal/whoami", host="b.test", timeout=20)
    lines = harness.headline_lines(harness.new_log_lines(srv, off))
    figures.update({"own_group": own[0], "allowed_by_WSGIRestrictProcess": allowed[0],
                    "not_in_WSGIRestrictProcess": restricted[0], "other_vhosts_group_by_env": stolen[0],
                    "log_lines": [l[-200:] for l in lines[:4]]})
    assert own[0] == 200 and allowed[0] == 200, "the vhost's own group does not serve: %s %s" % (own[:2], allowed[:2])
    bars.check("group outside WSGIRestrictProcess refused", restricted[0] in (403, 500), str(restricted[0]))
    bars.check("other vhost's group refused", stolen[0] in (403, 500), str(stolen[0]))
    bars.check("refusals logged", len([l for l in lines if "ga" in l]) >= 2, str(lines[:4]))
    # Naming another vhost's group statically is a configuration error.
    # Naming another vhost's group statically (process-group=): refused at config time or per request.
    try:
        srv2 = servers(env, "rel-steal-static")
        st = request(srv2.port, "/steal/whoami", host="b.test", timeout=20)[0]
        static = "config accepted, request got %d" % st
        refused = st in (403, 500)
    except httpd.ConfigError as e:
        static = "config rejected: " + (e.output.strip().splitlines() or [str(e)])[-1][:300]
        refused = True
    except httpd.HttpdError as e:
        static = "server failed: " + str(e)[:300]
        refused = False
    figures["other_vhosts_group_static"] = static
    bars.check("static use of another vhost's group refused", refused, static)
    bars.enforce(env)
