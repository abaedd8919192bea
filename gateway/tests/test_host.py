"""gateway.host: the cache root, the Python finder and the Python probe every layer uses."""

import sys
from pathlib import Path

import pytest

from gateway import host


def test_cache_root_is_the_variable_or_the_home_default(monkeypatch, tmp_path):
    monkeypatch.setenv("MOD_GATEWAY_CACHE", str(tmp_path))
    assert host.cache_root() == tmp_path
    default = Path.home() / ".cache" / "mod_gateway"
    monkeypatch.setenv("MOD_GATEWAY_CACHE", "")             # empty is unset, never the cwd
    assert host.cache_root() == default
    monkeypatch.delenv("MOD_GATEWAY_CACHE")
    assert host.cache_root() == default


def test_every_cache_user_asks_the_same_root(monkeypatch, tmp_path):
    from matrix import httpd_builds
    monkeypatch.setenv("MOD_GATEWAY_CACHE", "")
    assert httpd_builds.cache_root() == host.cache_root() / "httpd"
    monkeypatch.setenv("MOD_GATEWAY_CACHE", str(tmp_path))
    assert host.cache_root() == tmp_path and httpd_builds.cache_root() == tmp_path / "httpd"


def test_python_info_describes_the_interpreter():
    info = host.python_info(sys.executable)
    assert info["version"] == "%d.%d.%d" % sys.version_info[:3]
    assert info["short"] == "%d.%d" % sys.version_info[:2]
    assert (info["prefix"], info["base_prefix"]) == (sys.prefix, sys.base_prefix)
    assert {"executable", "include", "libdir", "ldlibrary", "ldversion", "libs", "shared"} <= set(info)


def test_python_info_and_find_python_say_what_failed(tmp_path):
    with pytest.raises(host.HostError, match="cannot run Python .*nope"):
        host.python_info(str(tmp_path / "nope"))
    with pytest.raises(host.HostError, match=r"no Python 9\.99 found"):
        host.find_python("9.99")
    assert host.find_python(sys.executable) == sys.executable   # a path is taken as given
