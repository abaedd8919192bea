"""Build mod_gateway.so for one Python with apxs, cached by what went into it.

    python -m gateway build --python PY [--apxs APXS] [--out DIR] [--define NAME[=VAL] ...]
                            [--src DIR]

--src builds another copy of the sources (the power tool's mutants); the cache key
covers every source file of the folder built and every define, the Python (executable and
version) and apxs (path and the Apache version it reports).  Builds happen in
a temporary directory, never in the source tree.
"""

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from . import host
from .host import cache_root
from .httpd import apxs_query

SRC = Path(__file__).resolve().parent / "src"
MODULE = "mod_gateway.so"


class BuildError(Exception):
    """The module could not be built; the message carries the compiler output."""


def _run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          universal_newlines=True, **kw)


def python_info(python):
    try:
        return host.python_info(python)
    except host.HostError as e:
        raise BuildError(str(e))


def apxs_info(apxs):
    path = shutil.which(apxs) or apxs
    if not os.path.exists(path):
        raise BuildError("apxs not found: %s" % apxs)
    q = apxs_query(path, "SBINDIR", "TARGET", "INCLUDEDIR")
    version = ""
    httpd = os.path.join(q["SBINDIR"], q["TARGET"]) if q["SBINDIR"] and q["TARGET"] else ""
    if httpd and os.path.exists(httpd):
        out = _run([httpd, "-v"])
        m = re.search(r"Apache/(\S+)", out.stdout)
        version = m.group(1) if m else ""
    if not version and q["INCLUDEDIR"]:
        try:
            text = Path(q["INCLUDEDIR"], "ap_release.h").read_text()
            parts = [re.search(r"#define AP_SERVER_%s_NUMBER (\d+)" % k, text)
                     for k in ("MAJORVERSION", "MINORVERSION", "PATCHLEVEL")]
            version = ".".join(p.group(1) for p in parts if p)
        except OSError:
            pass
    return os.path.realpath(path), version


def source_files(src=None):
    """Every C source and header of the module (the fuzz/ folder is not part of it)."""
    return sorted(p for p in Path(src or SRC).iterdir() if p.is_file() and p.suffix in (".c", ".h"))


def _normalise_defines(defines):
    out = []
    for d in defines or ():
        d = d[2:] if d.startswith("-D") else d
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(=.*)?$", d):
            raise BuildError("bad --define %r (NAME or NAME=VALUE)" % d)
        out.append(d)
    return out


def cache_key(pyinfo, apxs_path, apache_version, defines, src=None):
    h = hashlib.sha256()
    for p in source_files(src):
        h.update(p.name.encode())
        h.update(b"\0")
        h.update(p.read_bytes())
        h.update(b"\0")
    h.update(Path(__file__).read_bytes())
    h.update(host._PY_INFO.encode())                 # what python_info asks the Python
    h.update(("|".join(sorted(defines))).encode())
    h.update(("%s|%s|%s|%s" % (pyinfo["executable"], pyinfo["version"], apxs_path,
                               apache_version)).encode())
    return h.hexdigest()[:24]


def _libpython_flags(info):
    libdir = info["libdir"] or ""
    lib = "python" + info["ldversion"]
    if info["ldlibrary"]:
        m = re.match(r"lib(python.*?)\.(so|a|dylib)", info["ldlibrary"])
        if m:
            lib = m.group(1)
    flags = []
    if libdir:
        flags += ["-L%s" % libdir, "-Wl,-rpath,%s" % libdir]
    flags.append("-l%s" % lib)
    return flags


def build_module(python, apxs=None, out=None, defines=(), src=None):
    """Build (or reuse) mod_gateway.so for `python` from `src` (default gateway/src);
    returns its path."""
    python = str(python)
    apxs = str(apxs or shutil.which("apxs") or shutil.which("apxs2") or "/usr/bin/apxs")
    defines = _normalise_defines(defines)
    if src and not Path(src).is_dir():
        raise BuildError("no such source folder: %s" % src)
    info = python_info(python)
    apxs_path, apache_version = apxs_info(apxs)
    key = cache_key(info, apxs_path, apache_version, defines, src)
    dest_dir = cache_root() / "build" / key
    dest = dest_dir / MODULE
    if not dest.exists():
        _compile(info, apxs_path, defines, dest_dir, src)
    if out:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        target = out / MODULE
        tmp = out / (MODULE + ".tmp%d" % os.getpid())
        shutil.copy2(str(dest), str(tmp))
        os.replace(str(tmp), str(target))
        return target
    return dest


def _compile(info, apxs, defines, dest_dir, src=None):
    work = Path(tempfile.mkdtemp(prefix="mod_gateway-build-"))
    try:
        for p in source_files(src):
            shutil.copy2(str(p), str(work / p.name))
        sources = sorted(p.name for p in work.iterdir() if p.suffix == ".c")
        includes = []
        for d in (info.get("include"), info.get("includepy")):
            if d and d not in includes:
                includes.append(d)
        cmd = [apxs, "-c", "-o", MODULE]
        cmd += ["-I%s" % d for d in includes]
        cmd += ["-D%s" % d for d in defines]
        cmd += ["-Wc,-Wall", "-Wc,-O2", "-Wc,-fno-strict-aliasing",
                "-Wc,-Werror=implicit-function-declaration"]
        for flag in _libpython_flags(info):
            if flag.startswith("-Wl,"):
                cmd.append("-Wl," + flag)
            else:
                cmd.append(flag)
        cmd += sources
        res = _run(cmd, cwd=str(work))
        built = work / ".libs" / MODULE
        if res.returncode != 0 or not built.exists():
            raise BuildError("apxs failed (exit %d):\n$ %s\n%s"
                             % (res.returncode, " ".join(cmd), res.stdout))
        dest_dir.mkdir(parents=True, exist_ok=True)
        tmp = dest_dir / (MODULE + ".tmp%d" % os.getpid())
        shutil.copy2(str(built), str(tmp))
        (dest_dir / "build.log").write_text("$ %s\n%s" % (" ".join(cmd), res.stdout))
        (dest_dir / "build.json").write_text(json.dumps(
            {"python": info, "apxs": apxs, "defines": defines}, indent=1))
        os.replace(str(tmp), str(dest_dir / MODULE))
    finally:
        shutil.rmtree(str(work), ignore_errors=True)


def module_info(module):
    """{"kind", "version", "python"} read from a built module."""
    data = Path(module).read_bytes()
    if b"gateway_module" not in data:
        raise BuildError("%s is not a mod_gateway module" % module)
    m = re.search(rb"mod_gateway/(\d+\.\d+\.\d+)", data)
    libpython = ""
    out = _run(["ldd", str(module)])
    lm = re.search(r"(libpython\S+)\s+=>\s+(\S+)", out.stdout)
    if lm:
        libpython = lm.group(2)
    return {"kind": "gateway", "version": m.group(1).decode() if m else "",
            "python": libpython}


def main(argv=None):
    import argparse
    ap = argparse.ArgumentParser(prog="python -m gateway")
    sub = ap.add_subparsers(dest="command")
    b = sub.add_parser("build", help="build mod_gateway.so for a Python")
    b.add_argument("--python", required=True, help="the server Python executable")
    b.add_argument("--apxs", default=None, help="apxs of the Apache to build for")
    b.add_argument("--out", default=None, help="copy the module into this directory")
    b.add_argument("--define", action="append", default=[], metavar="NAME[=VAL]",
                   help="preprocessor define (repeatable), e.g. NDEBUG")
    b.add_argument("--src", default=None, metavar="DIR",
                   help="build the sources in DIR instead of gateway/src")
    i = sub.add_parser("info", help="describe a built module as JSON")
    i.add_argument("module")
    args = ap.parse_args(argv)
    if args.command == "build":
        try:
            path = build_module(args.python, apxs=args.apxs, out=args.out, defines=args.define,
                                src=args.src)
        except BuildError as e:
            sys.stderr.write("%s\n" % e)
            return 1
        sys.stdout.write("%s\n" % path)
        return 0
    if args.command == "info":
        try:
            sys.stdout.write(json.dumps(module_info(args.module)) + "\n")
        except (BuildError, OSError) as e:
            sys.stderr.write("%s\n" % e)
            return 1
        return 0
    ap.print_help(sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
