"""How a target module is loaded: a libpython the loader cannot find gets a LoadFile first."""

import shutil
import subprocess

import pytest

from conformance import targets
from gateway import host


@pytest.fixture(scope="module")
def python():
    """A Python whose libpython is not where the loader looks (Debian ships its own 3.11)."""
    try:
        info = host.python_info(host.find_python("3.12"))
    except host.HostError as e:
        pytest.skip(str(e))
    if not (shutil.which("gcc") and info["shared"] and info["libpython"]):
        pytest.skip("needs gcc and a Python with a shared libpython")
    return info


def _module(tmp_path, python, rpath):
    """A tiny shared object that links `python`'s libpython, with or without an rpath."""
    src = tmp_path / "m.c"
    # It calls into libpython, or the linker (--as-needed) would drop the library.
    src.write_text("int Py_IsInitialized(void);\nint marker(void) { return Py_IsInitialized(); }\n")
    out = tmp_path / "m.so"
    cmd = ["gcc", "-shared", "-fPIC", "-o", str(out), str(src), "-L" + python["libdir"],
           "-l" + python["ldlibrary"][len("lib"):].split(".so")[0]]
    if rpath:
        cmd.append("-Wl,-rpath," + python["libdir"])
    subprocess.run(cmd, check=True)
    return str(out)


def test_a_module_without_rpath_gets_its_libpython_loaded_first(tmp_path, python):
    module = _module(tmp_path, python, rpath=False)
    assert targets.linked_libpython(module) == ""
    lib = targets.libpython_to_load(module, python["executable"])
    assert lib.startswith(python["libdir"] + "/") and "libpython" in lib
    t = targets.Target("m", "module", module, "wsgi_module", (4, 7, 1), lib, load_file=lib)
    assert t.load_lines() == ['LoadFile "%s"' % lib, "LoadModule wsgi_module %s" % module]


def test_a_module_with_rpath_loads_alone(tmp_path, python):
    module = _module(tmp_path, python, rpath=True)
    assert targets.linked_libpython(module).startswith(python["libdir"])
    assert targets.libpython_to_load(module, python["executable"]) == ""
    t = targets.Target("m", "module", module, "wsgi_module", (4, 7, 1), "")
    assert t.load_lines() == ["LoadModule wsgi_module %s" % module]
