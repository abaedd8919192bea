"""Fast tests of matrix.httpd_builds: no network, no real compile.

A fake sdist whose "httpd" configure script fails drives the real steps up to
the failure; a real cached build, when there is one, is checked as-is.
"""

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

from matrix import httpd_builds as hb


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MOD_GATEWAY_CACHE", str(tmp_path))
    return tmp_path / "httpd"


def _fake_build(root, version, complete=True):
    prefix = root / version
    (prefix / "bin").mkdir(parents=True)
    (prefix / "bin" / "apxs").write_text("#!/bin/sh\n")
    if complete:
        (prefix / hb.MARKER).write_text(json.dumps({"version": version}))
    return prefix


def test_cached_builds_lists_only_completed(cache):
    done = _fake_build(cache, "2.4.69")
    _fake_build(cache, "2.4.12", complete=False)       # interrupted: no marker
    (cache / "downloads").mkdir()
    (cache / "2.4.12.build" / "logs").mkdir(parents=True)
    assert hb.cached_builds() == {"2.4.69": done}
    assert hb.apxs_for("2.4.69") == done / "bin" / "apxs"
    assert hb.apxs_for("2.4.12") is None


def test_cached_build_is_reused_without_work(cache):
    prefix = _fake_build(cache, "2.4.69")
    said = []
    assert hb.build_httpd("2.4.69", log=said.append) == prefix
    assert said == [f"cached: {prefix}"]


def test_unknown_version_is_refused(cache):
    with pytest.raises(ValueError, match="unknown httpd version"):
        hb.build_httpd("9.9.9")


def _tgz_bytes(files):
    """A .tar.gz of {name: (text, mode)}."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, (text, mode) in files.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _fake_sdist(downloads, version, sdist_version):
    """An sdist laid out like mod-wsgi-httpd's, whose httpd configure fails."""
    top = f"mod_wsgi_httpd-{sdist_version}"
    inner = {
        f"httpd-{version}.tar.gz": {
            f"httpd-{version}/configure": ("#!/bin/sh\necho 'configure: error: boom'\nexit 1\n", 0o755),
            f"httpd-{version}/srclib/.keep": ("", 0o644),
        },
        "apr-1.7.6.tar.gz": {"apr-1.7.6/README": ("", 0o644)},
        "apr-util-1.6.5.tar.gz": {"apr-util-1.6.5/README": ("", 0o644)},
    }
    downloads.mkdir(parents=True)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, files in inner.items():
            data = _tgz_bytes(files)
            info = tarfile.TarInfo(f"{top}/upstream/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    (downloads / f"{top}.tar.gz").write_bytes(buf.getvalue())


def test_failure_names_the_step_and_leaves_nothing_marked(cache, monkeypatch, capsys):
    monkeypatch.setitem(hb.KNOWN, "9.9.9", "9.9.9.1")
    _fake_sdist(cache / "downloads", "9.9.9", "9.9.9.1")
    with pytest.raises(hb.BuildError) as err:
        hb.build_httpd("9.9.9", log=lambda msg: None)
    log = cache / "9.9.9.build" / "logs" / "configure.log"
    assert str(err.value) == f"build-httpd 9.9.9 failed at step 'configure': see {log}"
    assert "configure: error: boom" in log.read_text()
    assert (cache / "9.9.9.build" / "logs" / "unpack.log").exists()
    assert not (cache / "9.9.9").exists()              # no half-installed prefix
    assert hb.cached_builds() == {}

    # The CLI says the same on stderr and exits non-zero.
    assert hb.main(["build-httpd", "9.9.9", "--force"]) == 1
    assert f"failed at step 'configure': see {log}" in capsys.readouterr().err


def test_a_failing_step_is_reported_by_name(cache, monkeypatch):
    monkeypatch.setitem(hb.KNOWN, "9.9.9", "9.9.9.1")

    def no_network(self, logfile):
        raise OSError("no route to the index")

    monkeypatch.setattr(hb._Build, "download", no_network)
    with pytest.raises(hb.BuildError, match=r"failed at step 'download': see .*download\.log"):
        hb.build_httpd("9.9.9", log=lambda msg: None)
    log = cache / "9.9.9.build" / "logs" / "download.log"
    assert "no route to the index" in log.read_text()


def test_configure_args():
    args = hb.configure_args("2.4.12", Path("/p"), Path("/p/bin/pcre-config"))
    assert args[0] == "--prefix=/p"
    assert "--enable-mpms-shared=prefork worker event" in args
    assert "--with-included-apr" in args and "--disable-ssl" in args
    assert args[-1] == "--with-pcre=/p/bin/pcre-config"
    assert "--disable-ssl" not in hb.configure_args("2.4.69", Path("/p"))


def _real_builds():
    # The real cache, not a test's tmp one: collected before any fixture runs.
    return sorted(hb.cached_builds().items())


@pytest.mark.parametrize("version,prefix", _real_builds() or [
    pytest.param(None, None, marks=pytest.mark.skip(
        reason="no cached httpd build; run `python -m matrix build-httpd 2.4.69`"))])
def test_cached_build_works(version, prefix):
    apxs, httpd = prefix / "bin" / "apxs", prefix / "bin" / "httpd"
    out = subprocess.run([apxs, "-q", "SBINDIR", "LIBEXECDIR"], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == f"{prefix}/bin;;{prefix}/modules"
    out = subprocess.run([httpd, "-V"], capture_output=True, text=True, check=True)
    assert f"Server version: Apache/{version} " in out.stdout
    info = json.loads((prefix / hb.MARKER).read_text())
    assert info["version"] == version and info["configure_args"]


# -- the download: the index's Simple API, never pip's internals nor a prepared sdist ---------

def _local_index(tmp_path, files, sha256=None):
    """A PEP 503 index (file://) listing `files` ({filename: bytes}) for mod-wsgi-httpd."""
    import hashlib
    store = tmp_path / "files"
    store.mkdir()
    page = tmp_path / "simple" / "mod-wsgi-httpd"
    page.mkdir(parents=True)
    links = []
    for name, data in files.items():
        (store / name).write_bytes(data)
        links.append('<a href="../../files/%s#sha256=%s">%s</a>'
                     % (name, sha256 or hashlib.sha256(data).hexdigest(), name))
    (page / "index.html").write_text("<html><body>%s</body></html>" % "\n".join(links))
    return (tmp_path / "simple").as_uri()


def test_fetch_sdist_takes_the_exact_version_from_the_index(tmp_path):
    index = _local_index(tmp_path, {"mod_wsgi-httpd-2.4.12.60.tar.gz": b"no",
                                    "mod_wsgi-httpd-2.4.12.6.tar.gz": b"sdist bytes",
                                    "mod_wsgi_httpd-2.4.12.6-py3-none-any.whl": b"no"})
    dest, log = tmp_path / "downloads", io.StringIO()
    dest.mkdir()
    got = hb.fetch_sdist(hb.SDIST, "2.4.12.6", dest, log, settings={"index-url": index})
    assert got == dest / "mod_wsgi-httpd-2.4.12.6.tar.gz" and got.read_bytes() == b"sdist bytes"
    assert sorted(p.name for p in dest.iterdir()) == [got.name]
    assert "Downloading file://" in log.getvalue() and f"Saved {got}" in log.getvalue()


def test_fetch_sdist_refuses_a_wrong_digest_and_a_missing_version(tmp_path):
    index = _local_index(tmp_path, {"mod_wsgi_httpd-2.4.69.1.tar.gz": b"tampered"}, sha256="0" * 64)
    dest = tmp_path / "downloads"
    dest.mkdir()
    with pytest.raises(RuntimeError, match=r"^sha256 mismatch for file://.*mod_wsgi_httpd-2\.4\.69\.1\.tar\.gz$"):
        hb.fetch_sdist(hb.SDIST, "2.4.69.1", dest, io.StringIO(), settings={"index-url": index})
    assert list(dest.iterdir()) == []
    log = io.StringIO()
    with pytest.raises(RuntimeError, match=r"^no sdist of mod-wsgi-httpd==2\.4\.69\.2 on the index$"):
        hb.fetch_sdist(hb.SDIST, "2.4.69.2", dest, log,
                       settings={"index-url": index, "extra-index-url": (tmp_path / "none").as_uri()})
    assert (tmp_path / "none").as_uri() in log.getvalue()     # an index that failed is named


def test_pip_settings_put_the_environment_first(monkeypatch, tmp_path):
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())
    assert hb._pip_settings()["index-url"] == (tmp_path / "simple").as_uri()


def test_download_step_fetches_from_the_configured_index(cache, monkeypatch, tmp_path):
    monkeypatch.setitem(hb.KNOWN, "9.9.9", "9.9.9.1")
    _fake_sdist(tmp_path / "made", "9.9.9", "9.9.9.1")
    sdist = tmp_path / "made" / "mod_wsgi_httpd-9.9.9.1.tar.gz"
    monkeypatch.setenv("PIP_INDEX_URL", _local_index(tmp_path, {sdist.name: sdist.read_bytes()}))
    with pytest.raises(hb.BuildError, match="failed at step 'configure'"):   # the fake's configure
        hb.build_httpd("9.9.9", log=lambda msg: None)
    assert (cache / "downloads" / sdist.name).read_bytes() == sdist.read_bytes()
    assert "Saved" in (cache / "9.9.9.build" / "logs" / "download.log").read_text()
