"""python -m conformance observe --target T --server-python PY [--mod-wsgi-version V]
                              [--apxs A] [--mpm M] [--out FILE]

Records what a module hands an application, in both modes: the complete environ of
the contract request (client.CONTRACT_PATH on the "basic" site), every key with its
class, and its value where it is fixed (the same in two requests; the server's port
root and process ids written as {port}, {root} and {pid}).  Run on a real release, the file it writes
under profiles/observed/ is the evidence a profile's environ contract is read from
(Profile.environ_contract); reviewed in like any other change.
"""

import argparse
import datetime
import json
import sys
from pathlib import Path

from . import MODES
from .client import contract
from .server_pool import ServerPool
from .session import Env, resolve_setup
from . import targets as targets_mod
from gateway import httpd

OBSERVED = Path(__file__).parent / "profiles" / "observed"
SCHEMA = "mod_gateway.observed-environ/1"
VARIES = "<varies>"


def observation_name(env):
    """'mod_wsgi-6.1.1-py3.11', 'mod_wsgi-debian-4.9.4-py3.11', 'mod_wsgi-4.7.1-py3.3-apache2.2':
    an observation's file name (Apache's generation named where it is not 2.4)."""
    name = env.target.kind if env.target.kind in ("gateway", "mod_wsgi-debian") else "mod_wsgi"
    apache = "" if env.install.version >= (2, 4) else "-apache%d.%d" % env.install.version[:2]
    return "%s-%s-py%d.%d%s" % (name, env.label.split()[1], env.python_version[0], env.python_version[1],
                                apache)


def _normalise(value, server, pids):
    if isinstance(value, str) and value in pids:
        return "{pid}"
    if isinstance(value, str):
        return value.replace(str(server.root), "{root}").replace(str(server.port), "{port}")
    if isinstance(value, list):
        return [_normalise(v, server, pids) for v in value]
    return value


def observe_mode(pool, mode):
    server = pool.get("basic", mode)
    server.exchanges = []
    first, second = contract(server), contract(server)
    pids = set(str(p) for p in server.pids())
    keys = {}
    for key in sorted(set(first) | set(second)):
        a, b = first.get(key), second.get(key)
        if a is None or b is None or a["class"] != b["class"]:
            raise RuntimeError("%s: key %s is not stable across two requests (%r, %r)" % (mode, key, a, b))
        keys[key] = {"class": a["class"],
                     "value": _normalise(a["value"], server, pids) if a["value"] == b["value"] else VARIES}
    return keys


def observe(env):
    pool = ServerPool(env)
    try:
        modes = {mode: observe_mode(pool, mode) for mode in MODES}
    finally:
        pool.close()
    return {"schema": SCHEMA, "target": env.label, "module": env.target.module,
            "python": ".".join(str(v) for v in env.python_version),
            "apache": env.install.version_string, "mpm": env.mpm,
            "observed": datetime.date.today().isoformat(), "modes": modes}


def main(argv):
    ap = argparse.ArgumentParser(prog="python -m conformance observe", description=__doc__.split("\n\n")[1])
    ap.add_argument("--target", required=True)
    ap.add_argument("--server-python", default=None)
    ap.add_argument("--mod-wsgi-version", default=None)
    ap.add_argument("--apxs", default="apxs")
    ap.add_argument("--mpm", default="event", choices=("prefork", "worker", "event"))
    ap.add_argument("--profile", default=None, help="the gateway's WSGICompatibility (gateway targets)")
    ap.add_argument("--out", default=None, help="default: profiles/observed/<target>-py<X.Y>.json")
    opt = ap.parse_args(argv)
    try:
        setup = resolve_setup(opt.target, opt.server_python, opt.apxs, opt.mod_wsgi_version, opt.profile)
    except (targets_mod.TargetError, httpd.HttpdError) as e:
        print("observe: %s" % e, file=sys.stderr)
        return 2
    env = Env.from_setup(setup, opt.mpm)
    doc = observe(env)
    out = Path(opt.out) if opt.out else OBSERVED / (observation_name(env) + ".json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, sort_keys=True) + "\n")
    print("observe: %s, %s: %s keys (embedded), %s (daemon) -> %s" % (
        doc["target"], "Python " + doc["python"], len(doc["modes"]["embedded"]),
        len(doc["modes"]["daemon"]), out))
    return 0
