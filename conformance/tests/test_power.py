"""The suite-power tool (conformance/power): mutation sites, sampling, and one bounded real run."""

import json
import re
import shutil
from collections import Counter

import pytest

from conformance.power import equivalent as EQ, mutants as M, run, unit as U
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
    assert run.mutant_session("x.so", opts, "5", 1, 60)[:3] == (0, {"cases": []}, ["QUE-004"])
    assert calls == [["--maxfail=1"], ["-k", "QUE-004"],
                     ["--maxfail=1", "--deselect", "test_que.py::test_order[QUE-004-daemon]"]]


def _entry(site, text, **kw):
    """An equivalent.json entry naming `site` by its line's text."""
    e = {"file": site.file, "line_text": text.split("\n")[site.line - 1].strip(), "family": site.family,
         "original": site.original, "replacement": site.replacement, "kind": "equivalent", "why": "test"}
    e.update(kw)
    return e


def _load(tmp_path, src, *entries):
    (tmp_path / "eq.json").write_text(json.dumps({"mutants": list(entries)}))
    return EQ.load(src, tmp_path / "eq.json")


def _file_check_sites(text):
    """gw_wire.c's bounds check of an 'S' frame, found by its text: the `||` of its condition and
    the `return GW_WIRE_EMALFORMED;` under it."""
    line = next(i for i, l in enumerate(text.split("\n"), 1) if "(UINT64_C(1) << 62) ||" in l)
    sites = M.sites("gw_wire.c", text)
    return (next(s for s in sites if (s.line, s.family, s.original) == (line, "logical", "||")),
            next(s for s in sites if (s.line, s.family) == (line + 1, "return")))


def test_equivalent_entries_match_their_site_across_line_shifts(tmp_path):
    """Every reviewed entry names one site of the current sources (else the tool stops); an
    entry still names its site after lines are added above it; a stale entry, or one whose
    line recurs without `before`, fails loudly."""
    reviewed = EQ.load(build.SRC)
    assert len(reviewed) == len(json.loads(EQ.FILE.read_text())["mutants"])
    assert {e["kind"] for e in reviewed.values()} <= set(EQ.KINDS)
    src = tmp_path / "src"
    shutil.copytree(str(build.SRC), str(src))
    text = (src / "gw_wire.c").read_text()
    site, ret = _file_check_sites(text)
    assert _load(tmp_path, src, _entry(site, text)) == {site: _entry(site, text)}
    (src / "gw_wire.c").write_text("/* moved */\n\n" + text)
    (moved, e), = _load(tmp_path, src, _entry(site, text)).items()
    assert (moved.line, moved.original, moved.replacement) == (site.line + 2, "||", "&&")
    (src / "gw_wire.c").write_text(text.replace("(UINT64_C(1) << 62) ||", "(UINT64_C(1) << 61) ||"))
    with pytest.raises(EQ.EntryError, match="stale"):
        _load(tmp_path, src, _entry(site, text))
    with pytest.raises(EQ.EntryError, match="stale"):
        _load(tmp_path, src, _entry(site, text, replacement="|"))
    # `return GW_WIRE_EMALFORMED;` recurs: ambiguous until the lines above it say which
    (src / "gw_wire.c").write_text(text)
    with pytest.raises(EQ.EntryError, match="ambiguous"):
        _load(tmp_path, src, _entry(ret, text))
    before = [l.strip() for l in text.split("\n")[ret.line - 2:ret.line - 1]]
    assert list(_load(tmp_path, src, _entry(ret, text, before=before))) == [ret]


def test_occurrence_names_one_of_two_same_changes_on_a_line(tmp_path):
    text = (build.SRC / "mod_gateway.c").read_text()
    line = next(i for i, l in enumerate(text.split("\n"), 1) if "if (!sc || !sc->aliases ||" in l)
    first, second = sorted((s for s in M.sites("mod_gateway.c", text)
                            if s.line == line and s.family == "logical"), key=lambda s: s.column)
    with pytest.raises(EQ.EntryError, match="ambiguous"):
        _load(tmp_path, build.SRC, _entry(first, text))
    assert list(_load(tmp_path, build.SRC, _entry(first, text, occurrence=1))) == [first]
    assert list(_load(tmp_path, build.SRC, _entry(first, text, occurrence=2))) == [second]
    with pytest.raises(EQ.EntryError, match="stale"):
        _load(tmp_path, build.SRC, _entry(first, text, occurrence=3))
    with pytest.raises(EQ.EntryError, match="occurrence"):
        _load(tmp_path, build.SRC, _entry(first, text, occurrence=0))


def test_reviewed_mutants_are_not_run_and_scored_apart(tmp_path):
    """An equivalent mutant is classified without a build; the report gives the score without
    it and the raw score with it, and lists it with its reason."""
    opts = run.parse_args(["--out", str(tmp_path)])
    site = next(iter(EQ.load(build.SRC)))
    opts.equivalents = {site: {"kind": "unreachable", "why": "only when memory runs out"}}
    rec = run.judge(3, site, opts, build.SRC, b"", {})
    assert (rec["classification"], rec["kind"], rec["reason"]) == ("equivalent", "unreachable",
                                                                  "only when memory runs out")
    recs = [dict(rec, index=1), dict(rec, index=2, classification="killed"),
            dict(rec, index=3, classification="survived")]
    t = run.totals(recs)
    assert (t["score"], t["raw_score"]) == (0.5, round(1 / 3, 4))
    doc = {"mutants": recs, "seed": 12, "profiles": ["5"], "duration_s": 1.0, "complete": True,
           "source": {"commit": "x" * 40, "dirty": [], "sha256": "0" * 64}, "server_python": "py",
           "case_args": []}
    run.write_reports(opts, doc)
    md = (tmp_path / "power.md").read_text()
    assert "**Score 50.0 %** (killed 1 / viable 2, reviewed equivalent or unreachable 1 left out); " \
           "raw 33.3 % (killed 1 / all 3 viable)" in md
    assert "| 1 | %s:%d | %s |" % (site.file, site.line, site.family) in md.split("## Reviewed")[1]
    assert "only when memory runs out" in md


@pytest.mark.skipif(not shutil.which("cc") and not shutil.which("gcc"), reason="needs a C compiler")
def test_unit_tests_judge_a_mutant_of_the_file_they_compile(tmp_path):
    """test_wire on a copy of gw_wire.c: green unmutated, and an 'S' frame check weakened from
    OR to AND fails it, by the node id of the section that checks it."""
    assert U.tests_for(["gw_wire.c", "gw_log.c"]) == ["gateway/tests/test_wire.py"]
    opts = run.parse_args(["--out", str(tmp_path)])
    opts.tree, opts.work = run.REPO, tmp_path
    src = tmp_path / "src"
    shutil.copytree(str(build.SRC), str(src))
    tests = U.tests_for(["gw_wire.c"])
    assert run.unit_session(tests, src, opts, tmp_path / "base", 300) == (0, [])
    text = (src / "gw_wire.c").read_text()
    site, _ = _file_check_sites(text)
    (src / "gw_wire.c").write_text(M.apply(site, text))
    assert run.unit_session(tests, src, opts, tmp_path / "m", 300) == (
        1, ["gateway/tests/test_wire.py::test_wire[file]"])


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
