"""The suite-power tool (conformance/power): mutation sites, sampling, and one bounded real run."""

import json
import re
import shutil
from collections import Counter

import pytest

from conformance.power import mutants as M, run
from gateway import build

SNIPPET = r'''#include <stdio.h>
#define LIMIT(a) ((a) < 10 && \
                  (a) > 0)
/* if (a < b) return 1; */
static const char *msg = "x < 1 || y";
static int f(int a, int b)
{
    char c = '<';   // a >= b
    if (a < b && c != 0)
        return OK;
    g(a, "if (z)");
    return 1;
}
'''


def test_sites_skip_comments_strings_and_directives():
    found = M.sites("x.c", SNIPPET)
    by = {(s.family, s.original) for s in found}
    assert by == {("relational", "<"), ("relational", "!="), ("logical", "&&"),
                  ("negate", "(a < b && c != 0)"), ("constant", "0"), ("constant", "1"),
                  ("return", "OK"), ("return", "1"), ("delete-call", 'g(a, "if (z)");')}
    assert all(s.line >= 6 for s in found)       # nothing from the directives, comment or string
    ret = next(s for s in found if s.family == "return" and s.original == "OK")
    assert (ret.line, ret.column, ret.replacement) == (10, 16, "DECLINED")


def test_every_family_applies_to_the_gateway_and_changes_it():
    for p in M.c_files(build.SRC):
        text = p.read_text()
        for s in {s.family: s for s in M.sites(p.name, text)}.values():
            mutated = M.apply(s, text)
            assert mutated != text and mutated.count("\n") == text.count("\n"), s.id
    fams = Counter(s.family for p in M.c_files(build.SRC) for s in M.sites(p.name, p.read_text()))
    assert set(fams) == set(M.FAMILIES)


def test_sampling_is_deterministic_and_spread():
    a = M.sample(build.SRC, 36, seed=3)
    assert a == M.sample(build.SRC, 36, seed=3)
    assert a != M.sample(build.SRC, 36, seed=4)
    assert Counter(m.family for m in a) == {f: 6 for f in M.FAMILIES}
    assert len({m.file for m in a}) >= 8
    assert not [m for m in M.sample(build.SRC, 10, 3, files="gw_wire.c") if m.file != "gw_wire.c"]


def test_list_prints_the_sample(capsys):
    assert run.main(["--list", "--mutants", "5", "--seed", "9"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [l.split()[1] for l in lines] == [m.id for m in M.sample(build.SRC, 5, 9)]


def test_a_failure_that_does_not_reproduce_is_set_aside(monkeypatch, tmp_path):
    """QUE-004 fails once, passes on its own: the session runs again without it and passes."""
    calls = []

    def fake(so, opts, p, stem, timeout, extra=(), case_args=True):
        calls.append(list(extra))
        if len(calls) == 1:
            return 1, {"cases": [{"id": "QUE-004", "mode": "daemon", "verdict": "fail", "required": True,
                                  "nodeid": "test_que.py::test_order[QUE-004-daemon]"}]}
        return 0, {"cases": []}
    monkeypatch.setattr(run, "run_suite", fake)
    opts = run.parse_args(["--out", str(tmp_path)])
    assert run.mutant_session("x.so", opts, "5", 1, 60) == (0, {"cases": []}, ["QUE-004"])
    assert calls == [["--maxfail=1"], ["-k", "QUE-004"],
                     ["--maxfail=1", "--deselect", "test_que.py::test_order[QUE-004-daemon]"]]


def _identical_candidate(src):
    """A site in Python 2 only code (`#if !GW_PY3`, or the #else of `#if GW_PY3`)."""
    for p in M.c_files(src):
        text, stack, py2 = p.read_text(), [], set()
        for n, line in enumerate(text.splitlines(), 1):
            d = re.match(r"\s*#\s*(\w+)\s*(.*?)\s*$", line)
            if d and d.group(1).startswith("if"):
                stack.append([d.group(2) if d.group(1) == "if" else None, False])
            elif d and d.group(1) in ("else", "elif") and stack:
                stack[-1] = [stack[-1][0] if d.group(1) == "else" else None, True]
            elif d and d.group(1) == "endif" and stack:
                stack.pop()
            elif any((c, e) in (("GW_PY3", True), ("!GW_PY3", False)) for c, e in stack):
                py2.add(n)
        hit = [s for s in M.sites(p.name, text) if s.line in py2]
        if hit:
            return hit[0]
    return None


@pytest.mark.skipif(not shutil.which("apxs") or not shutil.which("objcopy"), reason="needs apxs and objcopy")
def test_bounded_run_classifies_and_reports(tmp_path):
    """Three hand-picked mutants, two cases, profile 5: the handler hook deleted is killed, a
    change that does not compile is stillborn, Python 2 only code is an identical binary."""
    opts = run.parse_args(["--profiles", "5", "--out", str(tmp_path / "power"),
                           "--case-args", "-k 'test_wsgi_version or test_url_scheme'"])
    every = [s for p in M.c_files(build.SRC) for s in M.sites(p.name, p.read_text())]
    hook = next(s for s in every if s.family == "delete-call" and s.original.startswith("ap_hook_handler("))
    # not a family's change: one that cannot compile (its own id: another family's name)
    broken = M.Mutant(hook.file, hook.line, hook.column, "constant", hook.original[:3],
                      hook.original[:3] + "@", hook.offset)
    chosen = [hook, broken]
    same = _identical_candidate(build.SRC)
    if same:
        chosen.append(same)
    doc = run.run(opts, chosen, log=lambda *a: None)
    got = {r["id"]: r for r in doc["mutants"]}
    assert got[hook.id]["classification"] == "killed" and got[hook.id]["failed_cases"]
    assert not got[hook.id]["flaky_cases"]        # confirmed by rerunning the failing cases
    assert got[broken.id]["classification"] == "stillborn"
    if same:
        assert got[same.id]["classification"] == "identical"
    saved = json.loads((tmp_path / "power" / "power.json").read_text())
    assert saved["schema"] == run.SCHEMA and saved["complete"] and saved["score"] == 1.0
    assert saved["totals"]["killed"] == 1 and saved["baseline"]["profiles"]["5"]["exit_code"] == 0
    md = (tmp_path / "power" / "power.md").read_text()
    assert "Score 100.0 %" in md and "ap_hook_handler" not in md.split("## Survivors")[1].split("##")[0]
