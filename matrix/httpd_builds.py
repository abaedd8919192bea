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
import ast
import fcntl
import hashlib
import html.parser
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import time
import traceback
import urllib.parse
import urllib.request
from pathlib import Path

from gateway.host import cache_root as _cache_base

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

# The sdist is fetched from the index's Simple API (PEP 691 JSON or PEP 503 HTML) with the
# indexes, certificate, proxy and timeout pip is configured with (`pip config list`, which
# includes the PIP_* variables), and WITHOUT preparing it: `pip download` runs setup.py to
# get metadata, and old mod-wsgi-httpd setup.py files compile httpd right there (2.4.12.6's
# fails doing so against OpenSSL 3).
PYPI_SIMPLE = "https://pypi.org/simple"
_SIMPLE_ACCEPT = "application/vnd.pypi.simple.v1+json, text/html;q=0.1"


def _pip_settings():
    """{option: value} of pip's configuration for `pip download`: environment over the
    [download] section over [global]."""
    out = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True,
                         text=True, env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
    ranked = {}
    rank = {":env:": 0, "download": 1, "global": 2}
    for line in out.stdout.splitlines():
        key, sep, value = line.partition("=")
        section, _, option = key.rpartition(".")
        if not sep or section not in rank:
            continue
        try:
            value = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            continue
        if option not in ranked or rank[section] < ranked[option][0]:
            ranked[option] = (rank[section], value)
    return {option: value for option, (_, value) in ranked.items()}


def _opener(settings):
    cert = settings.get("cert")
    handlers = [urllib.request.HTTPSHandler(context=ssl.create_default_context(cafile=cert or None))]
    if settings.get("proxy"):
        handlers.append(urllib.request.ProxyHandler({"http": settings["proxy"], "https": settings["proxy"]}))
    return urllib.request.build_opener(*handlers)


class _Links(html.parser.HTMLParser):
    """The (href, text) of every <a> of a PEP 503 page."""

    def __init__(self):
        super().__init__()
        self.links, self._href, self._text = [], None, ""

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._href, self._text = dict(attrs).get("href"), ""

    def handle_data(self, data):
        if self._href is not None:
            self._text += data

    def handle_endtag(self, tag):
        if tag == "a" and self._href is not None:
            self.links.append((self._href, self._text.strip()))
            self._href = None


def _project_files(opener, index, project, timeout):
    """[(filename, url, sha256 or None)] of `project` on the Simple API at `index`."""
    url = f"{index.rstrip('/')}/{project}/"
    parsed = urllib.parse.urlparse(url)
    if parsed.scheme == "file" and os.path.isdir(urllib.request.url2pathname(parsed.path)):
        url += "index.html"                              # a local index, as pip reads it
    req = urllib.request.Request(url, headers={"Accept": _SIMPLE_ACCEPT})
    with opener.open(req, timeout=timeout) as resp:
        base, ctype, body = resp.geturl(), resp.headers.get("Content-Type", ""), resp.read()
    if "json" in ctype:
        return [(f["filename"], urllib.parse.urljoin(base, f["url"]), f.get("hashes", {}).get("sha256"))
                for f in json.loads(body)["files"]]
    page = _Links()
    page.feed(body.decode("utf-8", "replace"))
    files = []
    for href, text in page.links:
        link = urllib.parse.urljoin(base, href)
        path, _, fragment = link.partition("#")
        name = text or urllib.parse.unquote(path.rsplit("/", 1)[-1])
        algo, _, digest = fragment.partition("=")
        files.append((name, path, digest if algo == "sha256" else None))
    return files


def _normalise(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def fetch_sdist(name, version, dest, out, settings=None):
    """Download the sdist `name`-`version`.tar.gz from pip's indexes into `dest`, progress
    written to the file `out`; returns its path."""
    settings = _pip_settings() if settings is None else settings
    indexes = [settings.get("index-url") or PYPI_SIMPLE] + (settings.get("extra-index-url") or "").split()
    timeout = float(settings.get("timeout") or settings.get("default-timeout") or 15)
    opener = _opener(settings)
    for index in indexes:
        try:
            files = _project_files(opener, index, _normalise(name), timeout)
        except (OSError, ValueError, KeyError) as e:
            out.write(f"{index}: {e}\n")
            continue
        for filename, url, sha256 in files:
            stem, sep, ver = filename[: -len(".tar.gz")].rpartition("-")
            if filename.endswith(".tar.gz") and sep and _normalise(stem) == _normalise(name) and ver == version:
                return _download(opener, url, sha256, Path(dest) / filename, out, timeout)
    raise RuntimeError("no sdist of %s==%s on the index" % (name, version))


def _download(opener, url, sha256, path, out, timeout):
    out.write(f"Downloading {url}\n")
    out.flush()
    digest = hashlib.sha256()
    with opener.open(url, timeout=timeout) as resp, open(f"{path}.part", "wb") as f:
        for chunk in iter(lambda: resp.read(1 << 16), b""):
            digest.update(chunk)
            f.write(chunk)
    if sha256 and sha256 != digest.hexdigest():
        os.unlink(f"{path}.part")
        raise RuntimeError("sha256 mismatch for " + url)
    os.replace(f"{path}.part", path)
    out.write(f"Saved {path}\n")
    return path


class BuildError(RuntimeError):
    """A build step failed; ``step`` and ``log`` say which and where to look."""

    def __init__(self, version, step, log):
        super().__init__(f"build-httpd {version} failed at step '{step}': see {log}")
        self.version, self.step, self.log = version, step, log


def cache_root():
    """<cache>/httpd: gateway.host's cache root, this module's corner of it."""
    return _cache_base() / "httpd"


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
            with open(logfile, "a") as out:
                fetch_sdist(SDIST, self.sdist_version, self.downloads, out)
        except Exception:
            with open(logfile, "a") as out:
                traceback.print_exc(file=out)
            # Plain `pip download` also looks in find-links, and works for sdists whose
            # setup.py does not build httpd while preparing metadata.
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
