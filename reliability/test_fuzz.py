"""The child<->daemon framing: a bounded fuzz run over the decoder (gw_wire.c) with the
libFuzzer target in gateway/src/fuzz (or its gcc driver where libFuzzer is missing), and a
check that the harness does catch a planted out-of-bounds read."""

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "gateway" / "src"
FUZZ = SRC / "fuzz"


def _need_target():
    if not (SRC / "gw_wire.h").exists() or not (FUZZ / "run.sh").exists():
        pytest.skip("no gw_wire.h / fuzz target in this tree")


def _run(args, build, env_extra=None, timeout=600):
    env = dict(os.environ, FUZZ_BUILD=str(build), **(env_extra or {}))
    return subprocess.run(["bash", str(FUZZ / "run.sh")] + args, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, universal_newlines=True, env=env, timeout=timeout)


def _stats(text):
    out = {}
    m = re.search(r"engine: (\w+)", text)
    out["engine"] = m.group(1) if m else None
    m = re.search(r"stat::number_of_executed_units: (\d+)", text) or re.search(r"Done (\d+) runs", text)
    out["runs"] = int(m.group(1)) if m else None
    m = re.search(r"stat::new_units_added: (\d+)", text)
    out["new_units"] = int(m.group(1)) if m else None
    cov = re.findall(r"cov: (\d+)", text)
    out["edges_covered"] = int(cov[-1]) if cov else None
    return out


def test_fuzz_wire_decoder_bounded(request, figures):
    _need_target()
    seconds = request.config.option.rel_fuzz_seconds
    build = Path(tempfile.mkdtemp(prefix="fuzz-wire-"))
    try:
        out = _run([str(seconds)], build, timeout=seconds + 300)
        artifacts = sorted(p.name for p in (build / "artifacts").iterdir()) if (build / "artifacts").exists() else []
        st = _stats(out.stdout)
        figures.update(st)
        figures["seconds"] = seconds
        figures["seed_corpus"] = len(list((FUZZ / "corpus").iterdir()))
        figures["crashes"] = len(artifacts)
        findings = [l for l in out.stdout.splitlines()
                    if re.search(r"ERROR: |SUMMARY: |invariant broken|runtime error", l)]
        figures["findings"] = findings[:10]
        for a in artifacts:  # keep the reproducer where the report can point at it
            dest = Path(request.config.option.rel_json).parent / "fuzz-artifacts"
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(str(build / "artifacts" / a), str(dest / a))
        assert out.returncode == 0 and not artifacts, "fuzzing gw_wire.c found a problem:\n%s" % (
            "\n".join(findings) or out.stdout[-3000:])
        assert st["runs"] and st["runs"] > 1000, "the fuzzer barely ran:\n%s" % out.stdout[-2000:]
    finally:
        shutil.rmtree(str(build), ignore_errors=True)


def test_fuzz_harness_catches_planted_overread(figures):
    """gw_wire.c with its string bounds check off by one: the target must report it at once."""
    _need_target()
    work = Path(tempfile.mkdtemp(prefix="fuzz-planted-"))
    try:
        src = (SRC / "gw_wire.c").read_text()
        planted = src.replace("< (size_t)n + 1)", "< (size_t)n)")
        if planted == src:
            pytest.skip("gw_wire.c no longer has the bounds check this test plants a bug in")
        (work / "gw_wire.c").write_text(planted)
        shutil.copy(str(SRC / "gw_wire.h"), str(work / "gw_wire.h"))
        shutil.copytree(str(FUZZ), str(work / "fuzz"))
        # a request payload whose first string claims 3 bytes and has no terminator
        (work / "input").write_bytes(b"@\0\0\0\0\0\0\0\x03abc")  # "@": request decoder, room 0
        env = dict(os.environ, FUZZ_BUILD=str(work / "build"))
        out = subprocess.run(["bash", str(work / "fuzz" / "run.sh"), "replay", str(work / "input")],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                             env=env, timeout=300)
        figures["engine"] = _stats(out.stdout)["engine"]
        figures["caught"] = out.returncode != 0 and "heap-buffer-overflow" in out.stdout
        assert figures["caught"], "the planted over-read went unnoticed:\n%s" % out.stdout[-2000:]
    finally:
        shutil.rmtree(str(work), ignore_errors=True)
