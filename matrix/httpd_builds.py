"""Build Apache httpd from the sources bundled in PyPI's mod-wsgi-httpd sdists.

    python -m matrix build-httpd VERSION [--force]

Each build goes to a FIXED prefix, ``<cache>/httpd/<version>/``, because apxs
and httpd have their install paths compiled in: a moved tree's apxs would point
at the wrong place.  ``<cache>`` is ``$MOD_GATEWAY_CACHE`` or
``~/.cache/mod_gateway``.  Sources, logs and scratch live beside it in
``<prefix>.build/`` (one log per step in ``logs/<step>.log``); the sdists are
kept in ``<cache>/httpd/downloads/``.  Only a build that installed and passed
its checks gets ``<prefix>/.build-complete.json``; anything else is removed.
"""

import argparse
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

# httpd version -> the mod-wsgi-httpd sdist that bundles its sources.
KNOWN = {"2.4.12": "2.4.12.6", "2.4.69": "2.4.69.1"}

MARKER = ".build-complete.json"
SDIST = "mod-wsgi-httpd"

# What every build gets: all three MPMs loadable, so one prefix serves every
# MPM of the matrix; "most" covers the modules a test server loads (authz_*,
# log_config, mime, alias, dir, env, setenvif, headers, deflate, rewrite, unixd).
COMMON_CONFIGURE = [
    "--with-included-apr",
    "--enable-so",
    "--enable-mpms-shared=prefork worker event",
    "--enable-mods-shared=most",
]
# 2.4.12's mod_ssl and ab predate OpenSSL 1.1; they do not build against 3.x.
EXTRA_CONFIGURE = {"2.4.12": ["--disable-ssl"]}

# Fetch the sdist through pip's own finder and session (its index, proxy and
# certificate settings) WITHOUT preparing it: `pip download` runs setup.py to
# get metadata, and old mod-wsgi-httpd setup.py files compile httpd right there
# (2.4.12.6's fails doing so against OpenSSL 3).
_PIP_FETCH = r"""
import hashlib, os, sys
from pip._internal.commands import create_command
from pip._vendor.packaging.specifiers import SpecifierSet
name, version, dest = sys.argv[1:4]
cmd = create_command("download")
options, _ = cmd.parse_args(["--no-deps", "--no-binary", ":all:", "-d", dest])
with cmd.main_context():
    session = cmd.get_default_session(options)
    finder = cmd._build_package_finder(options=options, session=session)
    best = finder.find_best_candidate(name, SpecifierSet("==" + version)).best_candidate
    if best is None:
        sys.exit("no sdist of %s==%s on the index" % (name, version))
    link = best.link
    print("Downloading", link.url, flush=True)
    path = os.path.join(dest, link.filename)
    resp = session.get(link.url, stream=True)
    resp.raise_for_status()
    digest = hashlib.sha256()
    with open(path + ".part", "wb") as f:
        for chunk in resp.iter_content(1 << 16):
            digest.update(chunk)
            f.write(chunk)
    if link.hash_name == "sha256" and link.hash != digest.hexdigest():
        sys.exit("sha256 mismatch for " + link.url)
    os.replace(path + ".part", path)
    print("Saved", path)
"""


class BuildError(RuntimeError):
    """A build step failed; ``step`` and ``log`` say which and where to look."""

    def __init__(self, version, step, log):
        super().__init__(f"build-httpd {version} failed at step '{step}': see {log}")
        self.version, self.step, self.log = version, step, log


def cache_root():
    base = os.environ.get("MOD_GATEWAY_CACHE") or str(Path.home() / ".cache" / "mod_gateway")
    return Path(base) / "httpd"


def prefix_for(version):
    return cache_root() / version


def _read_marker(prefix):
    try:
        return json.loads((prefix / MARKER).read_text())
    except (OSError, ValueError):
        return None


def cached_builds():
    """{version: prefix} of the completed builds in the cache."""
    root, found = cache_root(), {}
    if root.is_dir():
        for prefix in sorted(root.iterdir()):
            info = _read_marker(prefix)
            if info and info.get("version") == prefix.name and (prefix / "bin" / "apxs").exists():
                found[prefix.name] = prefix
    return found


def apxs_for(version):
    prefix = cached_builds().get(version)
    return prefix / "bin" / "apxs" if prefix else None


def configure_args(version, prefix, pcre_config=None):
    args = [f"--prefix={prefix}"] + COMMON_CONFIGURE + EXTRA_CONFIGURE.get(version, [])
    if pcre_config:
        args.append(f"--with-pcre={pcre_config}")
    return args


class _Build:
    """One build's state; each step method runs with its output in its own log."""

    def __init__(self, version, log):
        self.version, self.log = version, log
        self.sdist_version = KNOWN[version]
        self.prefix = prefix_for(version)
        self.work = Path(f"{self.prefix}.build")
        self.logs = self.work / "logs"
        self.downloads = cache_root() / "downloads"
        self.sdist = self.httpd_src = self.pcre_tgz = self.pcre_config = None
        self.args = []
        self.steps = {}

    def sh(self, cmd, logfile, cwd=None):
        with open(logfile, "a") as out:
            shown = ("<script>" if "\n" in str(c) else str(c) for c in cmd)  # not the whole -c program
            out.write(f"$ {' '.join(shown)}  (in {cwd or os.getcwd()})\n")
            out.flush()
            subprocess.run([str(c) for c in cmd], cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, check=True)

    def run(self, step, func):
        logfile = self.logs / f"{step}.log"
        logfile.write_text("")
        self.log(f"build-httpd {self.version}: {step} (log: {logfile})")
        start = time.monotonic()
        try:
            func(logfile)
        except Exception:
            with open(logfile, "a") as out:
                traceback.print_exc(file=out)
            raise BuildError(self.version, step, logfile) from None
        self.steps[step] = round(time.monotonic() - start, 1)

    # -- steps --------------------------------------------------------------
    def download(self, logfile):
        self.downloads.mkdir(parents=True, exist_ok=True)
        self.sdist = self._find_sdist()
        if self.sdist:
            with open(logfile, "a") as out:
                out.write(f"reusing {self.sdist}\n")
            return
        try:
            self.sh([sys.executable, "-c", _PIP_FETCH, SDIST, self.sdist_version, self.downloads], logfile)
        except subprocess.CalledProcessError:
            # pip's internals moved: plain `pip download` still works for sdists
            # whose setup.py does not build httpd while preparing metadata.
            self.sh([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                     f"{SDIST}=={self.sdist_version}", "-d", self.downloads], logfile)
        self.sdist = self._find_sdist()
        if not self.sdist:
            raise FileNotFoundError(f"no {SDIST} {self.sdist_version} sdist in {self.downloads}")

    def _find_sdist(self):
        # The file name's spelling changed over the years: mod_wsgi-httpd / mod_wsgi_httpd.
        for path in sorted(self.downloads.glob(f"mod*wsgi*httpd-{self.sdist_version}.tar.gz")):
            return path
        return None

    def unpack(self, logfile):
        src = self.work / "src"
        shutil.rmtree(src, ignore_errors=True)
        src.mkdir()
        self.sh(["tar", "-xzf", self.sdist, "-C", src], logfile)

        tarballs = sorted(src.glob("*/**/*.tar.gz"))  # listed before anything else is unpacked

        def bundled(pattern):
            return next((t for t in tarballs if t.match(pattern)), None)

        httpd_tgz = bundled(f"httpd-{self.version}.tar.gz")
        apr, apu = bundled("apr-[0-9]*.tar.gz"), bundled("apr-util-[0-9]*.tar.gz")
        if not (httpd_tgz and apr and apu):
            raise FileNotFoundError(f"{self.sdist.name} lacks httpd/apr/apr-util tarballs")
        self.sh(["tar", "-xzf", httpd_tgz, "-C", src], logfile)
        self.httpd_src = src / f"httpd-{self.version}"
        # --with-included-apr wants them as srclib/apr and srclib/apr-util.
        for tgz, name in ((apr, "apr"), (apu, "apr-util")):
            self.sh(["tar", "-xzf", tgz, "-C", self.httpd_src / "srclib"], logfile)
            top = tgz.name[: -len(".tar.gz")]
            (self.httpd_src / "srclib" / top).rename(self.httpd_src / "srclib" / name)
        self.pcre_tgz = bundled("pcre*-[0-9]*.tar.gz")
        if self.pcre_tgz:
            self.sh(["tar", "-xzf", self.pcre_tgz, "-C", src], logfile)

    def pcre(self, logfile):
        # The bundled PCRE (pcre 8 for 2.4.12, which cannot use pcre2; pcre2 for
        # 2.4.69) built static into the prefix: no system -dev package needed and
        # nothing for httpd to find at run time.  Without one, configure looks
        # for pcre2-config / pcre-config on PATH.
        if not self.pcre_tgz:
            with open(logfile, "a") as out:
                out.write("no bundled PCRE: using the system's\n")
            return
        src = self.work / "src" / self.pcre_tgz.name[: -len(".tar.gz")]
        self.sh([src / "configure", f"--prefix={self.prefix}", "--disable-shared", "--with-pic",
                 "--disable-cpp"], logfile, cwd=src)
        self.sh(["make", f"-j{os.cpu_count() or 2}"], logfile, cwd=src)
        self.sh(["make", "install"], logfile, cwd=src)
        config = "pcre2-config" if self.pcre_tgz.name.startswith("pcre2") else "pcre-config"
        self.pcre_config = self.prefix / "bin" / config

    def configure(self, logfile):
        self.args = configure_args(self.version, self.prefix, self.pcre_config)
        self.sh([self.httpd_src / "configure"] + self.args, logfile, cwd=self.httpd_src)

    def make(self, logfile):
        self.sh(["make", f"-j{os.cpu_count() or 2}"], logfile, cwd=self.httpd_src)

    def install(self, logfile):
        self.sh(["make", "install"], logfile, cwd=self.httpd_src)

    def verify(self, logfile):
        # Prove the prefix is usable before marking it done: apxs answers with
        # the fixed prefix, httpd is the version asked for, and a minimal
        # config loading a shared MPM and authz_core parses.
        bin_ = self.prefix / "bin"
        self.sh([bin_ / "apxs", "-q", "SBINDIR", "LIBEXECDIR"], logfile)
        out = subprocess.run([bin_ / "httpd", "-V"], capture_output=True, text=True, check=True).stdout
        with open(logfile, "a") as f:
            f.write(out)
        if f"Apache/{self.version} " not in out:
            raise RuntimeError(f"httpd -V does not report Apache/{self.version}")
        conf = self.work / "verify.conf"
        conf.write_text(minimal_config(self.prefix, self.work))
        self.sh([bin_ / "httpd", "-t", "-f", conf], logfile)


def minimal_config(prefix, rundir):
    return (f'ServerRoot "{prefix}"\n'
            "LoadModule mpm_event_module modules/mod_mpm_event.so\n"
            "LoadModule authz_core_module modules/mod_authz_core.so\n"
            "ServerName localhost\n"
            "Listen 127.0.0.1:8080\n"
            f'PidFile "{rundir}/verify.pid"\n'
            f'ErrorLog "{rundir}/verify_error.log"\n'
            "<Directory />\n    Require all denied\n</Directory>\n")


def build_httpd(version, force=False, log=print):
    """Build httpd `version` (a KNOWN key) into its cache prefix and return the prefix."""
    if version not in KNOWN:
        raise ValueError(f"unknown httpd version {version!r}; known: {', '.join(KNOWN)}")
    b = _Build(version, log)
    b.work.mkdir(parents=True, exist_ok=True)
    # Parallel matrix jobs may ask for the same build: one builds, the others wait and reuse it.
    with open(f"{b.work}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not force and _read_marker(b.prefix):
            log(f"cached: {b.prefix}")
            return b.prefix
        shutil.rmtree(b.prefix, ignore_errors=True)  # also drops an old marker
        shutil.rmtree(b.logs, ignore_errors=True)    # only this attempt's logs
        b.logs.mkdir()
        start = time.monotonic()
        try:
            for step in ("download", "unpack", "pcre", "configure", "make", "install", "verify"):
                b.run(step, getattr(b, step))
        except BaseException:
            shutil.rmtree(b.prefix, ignore_errors=True)  # never leave a half install looking usable
            raise
        info = {
            "version": version,
            "sdist": f"{SDIST}=={b.sdist_version}",
            "sdist_file": b.sdist.name,
            "sdist_sha256": hashlib.sha256(b.sdist.read_bytes()).hexdigest(),
            "configure_args": b.args,
            "duration_s": round(time.monotonic() - start, 1),
            "steps_s": b.steps,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        }
        tmp = b.prefix / (MARKER + ".tmp")
        tmp.write_text(json.dumps(info, indent=2) + "\n")
        tmp.replace(b.prefix / MARKER)
        shutil.rmtree(b.work / "src", ignore_errors=True)  # ~300 MB of objects; logs stay
        log(f"built: {b.prefix} in {info['duration_s']}s")
        return b.prefix


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["build-httpd"]:
        argv = argv[1:]
    parser = argparse.ArgumentParser(prog="python -m matrix build-httpd",
                                     description="Build Apache httpd into the mod_gateway cache.")
    parser.add_argument("version", choices=sorted(KNOWN), help="httpd version")
    parser.add_argument("--force", action="store_true", help="rebuild even if cached")
    opts = parser.parse_args(argv)
    try:
        build_httpd(opts.version, force=opts.force)
    except BuildError as e:
        print(e, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
