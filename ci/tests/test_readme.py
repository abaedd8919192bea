"""Every command in the README is run by a test as written (issue 16).

The commands are read from README.md: every line of its ```sh blocks (`\\` continuations
joined, `# comments` dropped) and the inline code of its prose that starts like a command
(`python -m ...`, `tox -e ...`, `pip install ...`).  COMMANDS says how each one is exercised:

  RUN          here, as written (in a copy of the tree or a scratch directory where it writes
               files), its exit status and something specific in its output or files checked;
  ELSEWHERE    by a named CI step or test that really runs it; that file must still contain it;
  TOO_LONG     minutes to an hour: each part is checked to resolve as written (the tox
               environment, the tool's own parser, the same command with --dry-run,
               --collect-only or --list added);
  PLACEHOLDER  names a path of the reader's machine (/path/to/..., /opt/httpd): checked the same way.

A README command missing from COMMANDS fails, and so does an entry the README no longer has."""

import functools
import importlib.util
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
from collections import namedtuple
from configparser import ConfigParser
from pathlib import Path
from types import SimpleNamespace

import pytest

from ci import gate, validate_build
from ci.tests.test_validate_build import DEBIAN_MODULE, world_readable_tmpdir
from conformance import targets
from conformance.power import run as power
from gateway import httpd
from matrix import axes, bench, callgrind, cells as matrix_cells, run as matrix_run

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
SDIST = "mod_gateway-0.1.0.tar.gz"
OBSERVATION = "conformance/profiles/observed/mod_wsgi-6.1.1-py3.11.json"

# -- the README's commands ---------------------------------------------------------------

FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.M | re.S)
INLINE_COMMAND = re.compile(r"(python3? -m |tox -e |pip install |cd |bash |setfacl )")


def _strip_comment(line):
    """The line up to a `#` that starts a shell comment (not one inside quotes or a word)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def readme_commands(text=None):
    text = README.read_text() if text is None else text
    found = []
    for lang, body in FENCE.findall(text):
        if lang == "sh":
            found += [_strip_comment(line) for line in body.replace("\\\n", " ").splitlines()]
    found += [c for c in re.findall(r"`([^`]+)`", FENCE.sub("", text)) if INLINE_COMMAND.match(c)]
    return list(dict.fromkeys(" ".join(c.split()) for c in found if c.strip()))


def readme_block(lang):
    (body,) = [b for k, b in FENCE.findall(README.read_text()) if k == lang]
    return body


# -- running them ------------------------------------------------------------------------

def shell_env(pythonpath=ROOT, **extra):
    """The environment a README reader has: `python`/`python3` are this interpreter (the
    tox env's, or the one running pytest), the tree importable as after `pip install -e`."""
    env = dict(os.environ, PYTHON=sys.executable,
               PATH=os.pathsep.join([os.path.dirname(sys.executable), os.environ["PATH"]]))
    env.pop("PYTHONPATH", None)
    if pythonpath:
        env["PYTHONPATH"] = str(pythonpath)
    env.update(extra)
    return env


def sh(cmd, cwd=ROOT, env=None, timeout=180):
    """One command line through bash; stdout and stderr together in .stdout."""
    proc = subprocess.Popen(["bash", "-c", cmd], cwd=str(cwd), env=env or shell_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, universal_newlines=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)        # the session this test started, by its id
        out, _ = proc.communicate()
        pytest.fail("%r did not finish in %d s:\n%s" % (cmd, timeout, out[-3000:]))
    return subprocess.CompletedProcess(cmd, proc.returncode, out)


def ok(cmd, *args, **kw):
    proc = sh(cmd, *args, **kw)
    assert proc.returncode == 0, "%s: exit %d\n%s" % (cmd, proc.returncode, proc.stdout[-4000:])
    return proc.stdout


def on_private_tmp(cmd, where):
    """cmd with its /tmp paths moved under `where` (someone else's /tmp/validate is not ours)."""
    return re.sub(r"(?<= )/tmp(?=[/ ]|$)", str(where), cmd)


def parsed(parse, args):
    """The tool's own argument parser on `args`; a usage error fails the test (no SystemExit)."""
    try:
        return parse(args)
    except SystemExit as e:
        pytest.fail("%s.%s rejects %s (exit %s)" % (parse.__module__, parse.__name__, args, e.code))


@functools.lru_cache()
def this_matrix():
    return axes.discover()


def runnable(*globs):
    chosen = [c.id for c in matrix_cells.select(this_matrix().cells, list(globs)) if not c.unavailable]
    assert chosen, "no runnable matrix cell here matches %s" % " ".join(globs)
    return chosen


# -- fixtures: the README's sequences, each run once -------------------------------------

@pytest.fixture(scope="module")
def scratch():
    """World-readable directories (Apache's children read venvs and apps there), removed after."""
    made = []

    def make(prefix):
        made.append(world_readable_tmpdir(prefix))
        return made[-1]
    yield make
    for d in made:
        shutil.rmtree(str(d), ignore_errors=True)


@pytest.fixture(scope="module")
def tree(scratch):
    """A copy of the working tree: commands that write into it (build, observe) write here."""
    dest = scratch("readme-tree-") / "mod_gateway"
    shutil.copytree(str(ROOT), str(dest), ignore=shutil.ignore_patterns(
        ".git", ".tox", "reports", "dist", "build", "*.egg-info", "__pycache__", ".pytest_cache", ".venv"))
    return dest


@pytest.fixture(scope="module")
def built(tree):
    return sh(BUILD_SDIST, tree, env=shell_env(None), timeout=300)


@pytest.fixture(scope="module")
def unpacked(tree, built, scratch):
    """UNPACK_SDIST, with /tmp a private directory; the directory it cds into."""
    assert built.returncode == 0, built.stdout[-3000:]
    where = scratch("readme-unpacked-")
    out = ok(on_private_tmp(UNPACK_SDIST, where) + " && pwd", tree, env=shell_env(None))
    return Path(out.splitlines()[-1])


@pytest.fixture(scope="module")
def plugin_project(tree, built, scratch):
    """"Your app under mod_wsgi": a fresh virtualenv where PIP_INSTALL_SDIST ran as written
    in dist/, and a project holding the README's test file and the hello app it asks for."""
    assert built.returncode == 0, built.stdout[-3000:]
    d = scratch("readme-app-")
    subprocess.run([sys.executable, "-m", "venv", str(d / "venv")], check=True, timeout=120)
    env = shell_env(None, VIRTUAL_ENV=str(d / "venv"),
                    PATH=os.pathsep.join([str(d / "venv" / "bin"), os.environ["PATH"]]))
    install = sh(PIP_INSTALL_SDIST, tree / "dist", env=env, timeout=600)
    project = d / "project"
    project.mkdir()
    (project / "hello.py").write_text(
        "def application(environ, start_response):\n"
        "    start_response('200 OK', [('Content-Type', 'text/plain')])\n"
        "    return [('hello from ' + (environ.get('mod_wsgi.process_group') or 'embedded')).encode()]\n")
    (project / "test_hello.py").write_text(readme_block("python"))
    for p in (project, project / "hello.py", project / "test_hello.py"):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return SimpleNamespace(install=install, env=env, dir=project, python=d / "venv" / "bin" / "python")


@pytest.fixture(scope="module")
def tox_envs(tmp_path_factory):
    """{env: its resolved tox config} for the environments the README names."""
    if importlib.util.find_spec("tox") is None:
        pytest.fail("tox is not installed for %s: pip install -e '.[test]' installs it" % sys.executable)
    envs = ["tests", "matrix", "matrix-py27", "bench", "power"]
    proc = subprocess.run([sys.executable, "-m", "tox", "--workdir", str(tmp_path_factory.mktemp("tox")),
                           "-c", str(ROOT / "tox.ini"), "config", "-e", ",".join(envs),
                           "-k", "commands", "set_env", "extras", "package"],
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True, timeout=120)
    assert proc.returncode == 0, proc.stdout
    ini = ConfigParser(interpolation=None)
    ini.read_string(proc.stdout)
    return {e: ini["testenv:" + e] for e in envs}


def tox_commands(request, env):
    """The env's commands, one per line, a leading `- ` (exit status ignored) dropped."""
    lines = request.getfixturevalue("tox_envs")[env]["commands"].strip().splitlines()
    return [re.sub(r"^- ", "", line.strip()) for line in lines]


def tox_command(request, env, prefix):
    (line,) = [c for c in tox_commands(request, env) if c.startswith(prefix)]
    return shlex.split(line)[len(shlex.split(prefix)):]


# -- checks, composed into COMMANDS -------------------------------------------------------

def ran_by(path, *texts):
    """ELSEWHERE: `path` still holds each of `texts` (the command as that step runs it)."""
    def check(request, cmd):
        body = (ROOT / path).read_text()
        for t in texts:
            assert t in body, "%s no longer runs %r" % (path, t)
    return check


def checks(*parts):
    def check(request, cmd):
        for part in parts:
            part(request, cmd)
    return check


def tox_matrix_env(env, cells):
    """TOO_LONG tox -e matrix*: its `matrix run` parses and selects runnable cells here."""
    def check(request, cmd):
        args = tox_command(request, env, "python -m matrix run")
        assert parsed(matrix_run.parse_args, args).cells == [cells]
        assert all(matrix_cells.matches(c, cells) for c in runnable(cells))
    return check


def tox_bench(request, cmd):
    assert "bench" in request.getfixturevalue("tox_envs")["bench"]["extras"].split()
    parsed(bench.parse_args, tox_command(request, "bench", "python -m matrix bench"))
    try:
        bench.wrk_binary()
    except SystemExit as e:
        pytest.fail(str(e))


def power_lists(request, cmd):
    """The power tool as tox runs it, with --list: it samples its default number of mutants."""
    args = tox_command(request, "power", "python -m conformance.power")
    out = ok(" ".join(["python -m conformance.power"] + args + ["--list"]))
    listed = re.findall(r"^\s*\d+ \w+\.c:\d+:\d+:", out, re.M)
    assert len(listed) == parsed(power.parse_args, args).mutants, out


def tox_env_runs(env, first):
    def check(request, cmd):
        assert tox_commands(request, env)[0] == first
    return check


def installs_editable(request, cmd):
    """tox's envs install the tree as `pip install -e '.[test]'` does."""
    tests = request.getfixturevalue("tox_envs")["tests"]
    assert tests["package"] == "editable" and "test" in tests["extras"].split()


def collects(request, cmd, cwd=ROOT):
    """TOO_LONG conformance run: the same command with --collect-only resolves its target
    (building it, cached, when it must) and collects cases, without starting a server."""
    out = ok(cmd + " --collect-only -q", cwd)
    assert "setup error" not in out and sum(map(int, re.findall(r"^test_\w+\.py: (\d+)$", out, re.M))) > 0, out


def collects_with_journal(request, cmd):
    cwd = request.getfixturevalue("tmp_path")
    collects(request, cmd, cwd)
    j = json.loads((cwd / "journal.json").read_text())
    assert j["setup_error"] is None and j["target"]["module"] == DEBIAN_MODULE and j["target"]["profile"] == "5"
    assert (j["apache"]["apxs"], j["apache"]["mpm"], j["mode"]) == ("/usr/bin/apxs", "worker", "daemon")
    assert (cwd / "junit.xml").read_text().startswith("<?xml")


def gate_dry(cmd, add=True):
    """ci/gate's dry run (--dry-run added before its `--` pytest args when `add`): its output
    and the cells it lists, checked against the slice entries the gate's own globbing picks."""
    head, sep, tail = cmd.partition(" -- ")
    out = ok(head + (" --dry-run" if add else "") + sep + tail)
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")]
    a = gate.parse(shlex.split(cmd)[1:])
    entries = gate.resolve_ids(gate.load_slice(), httpd.ApacheInstall.from_apxs().version_string)
    assert listed == [e.id for e in gate.select_entries(entries, a.cells)], out
    return out, a


def gate_selects(request, cmd):
    gate_dry(cmd)


def gate_runs_the_slice(request, cmd):
    out, _ = gate_dry(cmd, add=False)
    assert "would run: bash ci/provision" in out and "would run %d cells" % len(gate.load_slice()) in out


def gate_passes_pytest_args(request, cmd):
    out, a = gate_dry(cmd)
    assert a.pytest_args == ["-x"] and a.no_provision and "would run: bash ci/provision" not in out
    assert "into reports/gate (jobs 2)" in out


def validate_sessions(out, out_dir):
    """The `==> ` sessions of validate-build's dry run: one per MPM of the Apache, Debian's module."""
    sessions = [line[4:] for line in out.splitlines() if line.startswith("==> ")]
    mpms = [re.search(r"--mpm (\w+)", s).group(1) for s in sessions]
    assert mpms == list(httpd.ApacheInstall.from_apxs("apxs").mpms), out
    for s, mpm in zip(sessions, mpms):
        assert "--target %s" % DEBIAN_MODULE in s and "--mode both" in s, s
        assert "--json %s/mod_wsgi.so-%s.json" % (out_dir, mpm) in s, s


def validate_dry_run(request, cmd):
    where = request.getfixturevalue("unpacked")
    out = ok(cmd, where, env=shell_env(None))
    assert out.startswith("validate-build: %s (mod_wsgi " % DEBIAN_MODULE), out
    validate_sessions(out, where / "reports" / "validate")
    assert not (where / "reports" / "validate" / "verdict.json").exists()


def validate_debian_dry(request, cmd):
    where, tmp = request.getfixturevalue("unpacked"), request.getfixturevalue("tmp_path")
    out = ok(on_private_tmp(cmd, tmp) + " --dry-run", where, env=shell_env(None))
    validate_sessions(out, tmp / "validate")


def validate_parses_packager_args(request, cmd):
    a = parsed(validate_build.parse, shlex.split(cmd)[1:])
    assert (a.module, a.python, a.apxs, a.mpm, a.mode, a.profile, a.out) == (
        "/usr/lib/apache2/modules/mod_gateway.so", "/usr/bin/python3.12", "/usr/bin/apxs", ["event"], "both",
        "5", "/tmp/validate")


def sdist_is_named(request, cmd):
    proc, tree = request.getfixturevalue("built"), request.getfixturevalue("tree")
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Successfully built %s" % SDIST in proc.stdout
    assert [p.name for p in (tree / "dist").iterdir()] == [SDIST]


def sdist_unpacks(request, cmd):
    where = request.getfixturevalue("unpacked")
    assert where.name == SDIST[:-len(".tar.gz")]
    for rel in ("ci/validate-build", "tox.ini", "conformance/cases", "conformance/profiles/5.json"):
        assert (where / rel).exists(), "the sdist lacks %s" % rel


def sdist_installs(request, cmd=None):
    p = request.getfixturevalue("plugin_project")
    assert p.install.returncode == 0, p.install.stdout[-3000:]
    plugins = subprocess.run([str(p.python), "-c", "from importlib.metadata import entry_points; "
                              "print(*[e.value for e in entry_points(group='pytest11')])"],
                             stdout=subprocess.PIPE, universal_newlines=True, check=True).stdout.split()
    assert "mod_gateway_pytest" in plugins


def plugin_passes(request, cmd):
    """The README's test file, in the project whose venv has the sdist installed."""
    p = request.getfixturevalue("plugin_project")
    sdist_installs(request)
    out = ok(cmd, p.dir, env=p.env, timeout=300)
    assert re.search(r"^=+ 2 passed", out, re.M), out


def plugin_parses(request, cmd):
    p = request.getfixturevalue("plugin_project")
    out = ok(cmd + " --collect-only -q", p.dir, env=p.env)
    assert "test_hello.py::test_hello[gateway-embedded]" in out and "test_hello.py::test_hello[gateway-daemon]" in out


def lists_the_catalogue(request, cmd):
    out = ok(cmd)
    ids = re.findall(r"^([A-Z]+-\d+) ", out, re.M)     # one line per case, then the count
    assert out.splitlines()[-1] == "%d cases" % len(ids) and "ENV-027" in ids, out[-2000:]


def observes(request, cmd):
    """Run in the tree's copy (it writes under conformance/profiles/observed/); the environ it
    records has the key set and classes of the committed observation the profiles read."""
    tree = request.getfixturevalue("tree")
    committed = json.loads((tree / OBSERVATION).read_text())
    (tree / OBSERVATION).unlink()
    out = ok(cmd, tree, env=shell_env(tree))
    assert "-> %s\n" % (tree / OBSERVATION) in out, out

    def classes(doc):
        return {mode: {k: v["class"] for k, v in keys.items()} for mode, keys in doc["modes"].items()}
    assert classes(json.loads((tree / OBSERVATION).read_text())) == classes(committed)


def builds_gateway(request, cmd):
    path = Path(ok(cmd).splitlines()[-1])
    assert path.name == "mod_gateway.so" and path.is_file()


def callgrind_resolves(request, cmd):
    a = parsed(callgrind.parse_args, shlex.split(cmd)[3:])
    assert (a.target, a.mode) == ("gateway", "daemon")
    assert shutil.which("valgrind") and shutil.which("callgrind_annotate"), "valgrind is not installed"
    targets.resolve(a.target, targets.find_python(a.python), httpd.ApacheInstall.from_apxs(a.apxs).apxs)


def matrix_tests_resolve(request, cmd):
    a = parsed(matrix_run.parse_args, shlex.split(cmd)[3:])
    assert a.tests == ["tests/"] and runnable(*a.cells)


def gateway_build_has_src(request, cmd):
    assert "--src DIR" in ok("python -m gateway build --help")


# -- the table ----------------------------------------------------------------------------

BUILD_SDIST = "python3 -m build --sdist"
UNPACK_SDIST = "tar xzf dist/%s -C /tmp && cd /tmp/%s" % (SDIST, SDIST[:-len(".tar.gz")])
PIP_INSTALL_SDIST = "pip install %s pytest" % SDIST
PIP_TOX = ran_by(".ci/run", "python3 -m pip install -q --disable-pip-version-check tox")

Entry = namedtuple("Entry", "kind why check")
RUN, ELSEWHERE, TOO_LONG, PLACEHOLDER = "RUN", "ELSEWHERE", "TOO_LONG", "PLACEHOLDER"

COMMANDS = {
    # -- The two commands, and the ones that measure
    "python3 -m pip install tox && python3 -m tox -e matrix": Entry(
        TOO_LONG, "the whole matrix, hours; .ci/run installs tox so; its `matrix run --cells '*'` parses and "
        "selects runnable cells", checks(PIP_TOX, tox_matrix_env("matrix", "*"))),
    "python3 -m pip install tox && python3 -m tox -e tests": Entry(
        ELSEWHERE, ".ci/run, after lint", checks(PIP_TOX, ran_by(".ci/run", "python3 -m tox -e tests"))),
    "tox -e matrix-py27": Entry(
        TOO_LONG, "py2.7's slice of the matrix; MATRIX_CELLS reaches `matrix run --cells`, which selects "
        "runnable py2.7 cells", tox_matrix_env("matrix-py27", "*/py2.7/*")),
    "tox -e lint": Entry(ELSEWHERE, ".ci/run, first step", ran_by(".ci/run", "python3 -m tox -e lint")),
    "python3 -m tox -e reliability": Entry(
        ELSEWHERE, ".ci/run, last step", ran_by(".ci/run", "python3 -m tox -e reliability")),
    "tox -e reliability": Entry(ELSEWHERE, ".ci/run, last step", ran_by(".ci/run", "python3 -m tox -e reliability")),
    "python3 -m tox -e bench": Entry(
        TOO_LONG, "~29 min of wrk runs; the env installs the bench extra, `matrix bench` parses, wrk is here",
        tox_bench),
    "python3 -m tox -e power": Entry(TOO_LONG, "about an hour; the power tool lists its sample", power_lists),
    "tox -e power": Entry(TOO_LONG, "about an hour; the power tool lists its sample", power_lists),
    "python -m conformance.power": Entry(TOO_LONG, "what tox -e power runs: --list prints its sample", power_lists),
    "python -m matrix.callgrind --target gateway --mode daemon": Entry(
        TOO_LONG, "two runs of 1200 requests under valgrind: 40 s idle, 150 s on this shared machine; its "
        "parser takes the options, valgrind is here and the gateway target resolves (built, cached)",
        callgrind_resolves),
    "tox -e tests": Entry(ELSEWHERE, ".ci/run", ran_by(".ci/run", "python3 -m tox -e tests")),
    # -- Pointing the suite at a module
    "pip install -e '.[test]'": Entry(
        ELSEWHERE, "tox's testenv installs the tree editable with the test extra (.ci/run's tox -e tests); "
        "ci/github-gate.yml runs it as written",
        checks(installs_editable, ran_by("ci/github-gate.yml", "pip install -q -e '.[test]'"))),
    "bash ci/provision": Entry(
        ELSEWHERE, "tox -e tests' first command (installs packages as root: not run twice)",
        tox_env_runs("tests", "bash ci/provision")),
    "python -m conformance --list": Entry(RUN, "the catalogue", lists_the_catalogue),
    "python -m conformance --target mod_wsgi --server-python 3.11": Entry(
        TOO_LONG, "the whole suite in both modes (minutes)", collects),
    "python -m conformance --target mod_wsgi-debian": Entry(
        TOO_LONG, "the whole suite in both modes (minutes)", collects),
    "python -m conformance --target gateway --server-python 2.7 --mpm prefork": Entry(
        TOO_LONG, "the whole suite in both modes (minutes)", collects),
    ("python -m conformance --target /usr/lib/apache2/modules/mod_wsgi.so --profile 5 --apxs /usr/bin/apxs "
     "--mpm worker --mode daemon --json journal.json --junitxml junit.xml -n 2"): Entry(
        TOO_LONG, "the whole suite (minutes); collected in a scratch directory, where its journal and JUnit land",
        collects_with_journal),
    "python -m conformance observe --target mod_wsgi --mod-wsgi-version 6.1.1 --server-python 3.11": Entry(
        RUN, "in a copy of the tree: it rewrites conformance/profiles/observed/", observes),
    # -- Your app under mod_wsgi
    PIP_INSTALL_SDIST: Entry(RUN, "in dist/ of the copy's build, into a fresh virtualenv", sdist_installs),
    "pytest": Entry(RUN, "the README's test file and a hello app, in that virtualenv", plugin_passes),
    "pytest --wsgi-target mod_wsgi": Entry(RUN, "the same project", plugin_passes),
    "pytest --wsgi-mode both --wsgi-mpm prefork --wsgi-server-python 3.12 --wsgi-apxs /opt/httpd/bin/apxs": Entry(
        PLACEHOLDER, "/opt/httpd/bin/apxs is the reader's own Apache: with --collect-only the plugin takes "
        "the options and parametrizes both modes", plugin_parses),
    "python -m matrix run --tests tests/ --cells '*/py3.11/*/*/*'": Entry(
        TOO_LONG, "the reader's suite in ~30 cells; `matrix run` parses it and py3.11 cells are runnable here",
        matrix_tests_resolve),
    "python -m matrix run --tests PATH": Entry(
        ELSEWHERE, "tox -e tests runs the worked example so",
        ran_by("tox.ini", "python -m matrix run --tests examples/flask_app")),
    "cd examples/flask_app && pytest": Entry(
        ELSEWHERE, "tox -e tests runs the example's suite in a cell per mode; test_pytest_plugin.py runs pytest "
        "in a copy of it", checks(ran_by("tox.ini", "python -m matrix run --tests examples/flask_app"),
                                  ran_by("gateway/tests/test_pytest_plugin.py", "shutil.copytree(str(EXAMPLE)"))),
    # -- For CI users
    "ci/gate": Entry(
        ELSEWHERE, "tox -e tests runs its two steps: bash ci/provision first, python ci/gate.py --no-provision "
        "last (ci/gate execs ci/gate.py)",
        checks(tox_env_runs("tests", "bash ci/provision"), ran_by("tox.ini", "python ci/gate.py --no-provision"),
               ran_by("ci/gate", '/gate.py" "$@"'))),
    "ci/gate --dry-run": Entry(RUN, "lists every cell of the slice", gate_runs_the_slice),
    "ci/gate --cells '*/py2.7/*'": Entry(
        TOO_LONG, "three cells' suites (minutes); its dry run selects the slice's py2.7 cells", gate_selects),
    "ci/gate --no-provision --jobs 2 --out reports/gate -- -x": Entry(
        TOO_LONG, "the 17 cells (tens of minutes); its dry run takes the options and the pytest args after --",
        gate_passes_pytest_args),
    "ci/gate --gateway-module /path/to/mod_gateway.so --cells 'apache-system/py3.13/*'": Entry(
        PLACEHOLDER, "/path/to is the reader's module: its dry run selects the py3.13 cells of the system "
        "Apache; test_gate.py runs the gate with --gateway-module on one of them",
        checks(gate_selects, ran_by("ci/tests/test_gate.py", '"--gateway-module", module'))),
    # -- For packagers
    BUILD_SDIST: Entry(RUN, "in a copy of the tree: the sdist is the one the next line unpacks", sdist_is_named),
    UNPACK_SDIST: Entry(RUN, "with /tmp a private directory", sdist_unpacks),
    "ci/validate-build --module /usr/lib/apache2/modules/mod_wsgi.so --out /tmp/validate": Entry(
        TOO_LONG, "the suite once per MPM (~15 min); from the unpacked sdist with --dry-run; "
        "test_validate_build.py runs it for real on the event MPM",
        checks(validate_debian_dry, ran_by("ci/tests/test_validate_build.py",
                                           '["bash", "ci/validate-build", "--module", DEBIAN_MODULE'))),
    ("ci/validate-build --module /usr/lib/apache2/modules/mod_gateway.so --python /usr/bin/python3.12 "
     "--apxs /usr/bin/apxs --mpm event --mode both --profile 5 --out /tmp/validate"): Entry(
        PLACEHOLDER, "a packager's module and Python 3.12 under /usr (not on Debian 12): its parser takes every "
        "option; test_validate_build.py validates a mod_gateway built for 3.12",
        checks(validate_parses_packager_args,
               ran_by("ci/tests/test_validate_build.py", "def test_validate_gateway_module"))),
    "ci/validate-build --module /usr/lib/apache2/modules/mod_wsgi.so --dry-run": Entry(
        RUN, "from the unpacked sdist", validate_dry_run),
    # -- inline in the prose
    "python -m gateway build --python python3": Entry(RUN, "cached once built", builds_gateway),
    "python -m gateway serve app.wsgi": Entry(
        ELSEWHERE, "as written it takes port 8000 on a shared machine; test_serve.py runs it on a free port",
        ran_by("gateway/tests/test_serve.py", '"-m", "gateway", "serve", "--port"')),
    "python -m gateway build --src": Entry(
        ELSEWHERE, "how power builds each mutant: build_module(src=...), what --src runs; test_power.py's bounded "
        "run builds mutants so",
        checks(ran_by("conformance/power/run.py", "build.build_module(opts.python, src="),
               ran_by("conformance/tests/test_power.py", "doc = run.run(opts, chosen"), gateway_build_has_src)),
    "python -m matrix build-httpd": Entry(
        ELSEWHERE, "the gate (tox -e tests) builds the slice's Apaches with its function, test_httpd_builds.py "
        "runs it on a fake release; not run here: minutes of compiling",
        checks(ran_by("ci/gate.py", 'log("gate: python -m matrix build-httpd %s" % v)',
                      "httpd_builds.build_httpd(v, log=log)"),
               ran_by("matrix/tests/test_httpd_builds.py", 'hb.main(["build-httpd", "9.9.9", "--force"])'))),
    "setfacl -m u:www-data:x /root": Entry(
        ELSEWHERE, "what ci/provision does as root (tox -e tests' first command)",
        ran_by("ci/provision", "CHILD_USER=${APACHE_CHILD_USER:-www-data}", 'setfacl -m "u:$CHILD_USER:x" "$d"')),
}


# -- the tests ----------------------------------------------------------------------------

def test_every_readme_command_is_classified():
    missing = [c for c in readme_commands() if c not in COMMANDS]
    assert not missing, "README commands COMMANDS does not classify:\n  " + "\n  ".join(missing)


def test_no_entry_names_a_command_the_readme_dropped():
    stale = [c for c in COMMANDS if c not in readme_commands()]
    assert not stale, "COMMANDS entries the README no longer has:\n  " + "\n  ".join(stale)


def test_extraction_joins_continuations_and_drops_comments():
    got = readme_commands("```sh\nfoo --a \\\n    --b 'x # y'   # why\n# only a comment\n```\n"
                          "and `python -m x\nrun` but not `ci/gate`\n")
    assert got == ["foo --a --b 'x # y'", "python -m x run"]


@pytest.mark.parametrize("command", list(COMMANDS))
def test_readme_command(command, request):
    entry = COMMANDS[command]
    assert entry.kind in (RUN, ELSEWHERE, TOO_LONG, PLACEHOLDER) and entry.why
    entry.check(request, command)
