"""python -m conformance --target T --server-python PY [--apxs A] [--mpm M] [--mode M]
                      [--profile P] [--json FILE] [pytest args]
python -m conformance --list [--json]          (ID file::function requirement profiles modes)
python -m conformance observe --target T --server-python PY [...]   (see conformance/observe.py)

Cases are selected by ID: `-k ENV-027`, or `--case 'QUE-*'` / `--case 'QUE-001[embedded]'`.
Runs the suite in one pytest session; exit 0 when every required case passes,
1 when one fails, 2 when the target or Apache could not be set up."""

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).parent


def list_catalogue(as_json):
    from .catalogue import listing, load_all
    cases = sorted(load_all().values(), key=lambda c: c.id)
    if as_json:
        print(json.dumps([{"id": c.id, "area": c.area, "requirement": c.requirement,
                           "profiles": list(c.profiles), "modes": list(c.modes), "location": c.location} for c in cases],
                         indent=1))
        return 0
    print("\n".join(listing(cases)))
    print("%d cases" % len(cases))
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["observe"]:
        from .observe import main as observe_main
        return observe_main(argv[1:])
    if "--list" in argv:
        return list_catalogue("--json" in argv)
    if "--json" in argv:
        i = argv.index("--json")
        argv[i] = "--conformance-json"
    import pytest
    # pytest marks every package of a distribution with a pytest11 plugin (ours ships
    # mod_gateway_pytest) for assertion rewriting, and warns that this one, which
    # `python -m conformance` has already imported, cannot be: nothing to act on.
    args = [str(HERE / "cases"), "-p", "no:cacheprovider", "--rootdir", str(HERE / "cases"),
            "-c", os.devnull, "-q", "-rfE",
            "-W", "ignore:Module already imported so cannot be rewritten:pytest.PytestAssertRewriteWarning"]
    if any(a == "-n" or a.startswith("-n") or a.startswith("--numprocesses") for a in argv):
        args += ["--dist", "loadgroup"]
    return pytest.main(args + argv)


if __name__ == "__main__":
    sys.exit(main())
