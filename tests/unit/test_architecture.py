"""The house rules of the code (docs/architecture.md), read from the source as text and syntax trees.

- Arrows go one way: ``scripts`` → ``jobs`` → ``receiver``, and inside ``receiver`` down the rooms of
  ``ROOMS`` only; no module imports itself back through others.
- Every Redis key and queue name of ours is spelled in ``receiver/core/keys.py`` alone.
- ``scripts/`` is command-line code only, and mypy checks every package with the same strictness.
- Module and class names are unique by meaning; every module opens with its purpose.
"""

import ast
import configparser
import os
import re

import pytest

from tests.support.helpers import ROOT

PACKAGES = ("receiver", "jobs", "scripts")
# Each room, and the rooms it may import (besides its own modules). Bottom up; the graph must stay acyclic.
ROOMS = {
    "receiver.core": set(),
    "receiver.capture": {"receiver.core"},
    "receiver.ledger": {"receiver.core", "receiver.capture"},
    "receiver.routes": {"receiver.core", "receiver.capture"},
    "receiver.procs": {"receiver.core"},
    "receiver.forwarder": {"receiver.core", "receiver.capture"},
    "receiver.store": {"receiver.core", "receiver.capture", "receiver.ledger"},
    "receiver.ops": {
        "receiver.core",
        "receiver.capture",
        "receiver.ledger",
        "receiver.routes",
        "receiver.forwarder",
        "receiver.store",
    },
    "receiver.metrics": {"receiver.core", "receiver.capture", "receiver.routes", "receiver.forwarder", "receiver.ops"},
    "receiver.replay": {"receiver.core", "receiver.capture", "receiver.forwarder", "receiver.store"},
    "receiver.web": {"receiver.core", "receiver.capture", "receiver.forwarder", "receiver.ops", "receiver.metrics"},
    "receiver.inspector": {
        "receiver.core",
        "receiver.capture",
        "receiver.ledger",
        "receiver.routes",
        "receiver.forwarder",
        "receiver.store",
        "receiver.ops",
        "receiver.metrics",
    },
    # jobs: what a worker runs; never a web app (the worker must not load Flask)
    "jobs": {
        "receiver.core",
        "receiver.capture",
        "receiver.ledger",
        "receiver.routes",
        "receiver.metrics",
        "receiver.procs",
    },
    "scripts": {"jobs", "receiver.*"},
}
# The one module that spells our Redis keys and queue names.
KEYS_MODULE = "receiver/core/keys.py"
KEY_TEXT = re.compile(
    r"smartech-dumper:(?! )|:(delivered|sinks|arrivals|resting|metrics|last-capture|routes-problems|popped|job-of"
    r"|alive)\b|:(rate|inflight|held|breaker|paused|waiting):"
    r"|^-(high|default|low|checks)$"
)
# Modules that print for the CLI and are no command themselves.
CLI_HELPERS = {"scripts/errors.py", "scripts/variables.py", "scripts/view/options.py", "scripts/view/output.py"}
CLI_HELPERS |= {"scripts/view/captureview.py", "scripts/__main__.py"}


def sources():
    """Yield ``(path relative to the root, module name, syntax tree)`` of every module of ours."""
    for package in PACKAGES:
        for folder, _, names in os.walk(os.path.join(ROOT, package)):
            for name in sorted(names):
                if name.endswith(".py"):
                    path = os.path.relpath(os.path.join(folder, name), ROOT)
                    module = path[:-3].replace(os.sep, ".").removesuffix(".__init__")
                    with open(os.path.join(ROOT, path), encoding="utf-8") as handle:
                        yield path, module, ast.parse(handle.read(), path)


SOURCES = list(sources())
MODULES = {module for _, module, _ in SOURCES}


def imported(module, tree):
    """Return the modules of ours that ``tree`` imports, anywhere in it (functions included)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            assert node.level == 0, f"{module}: a relative import; ours are absolute"
            names = [f"{node.module}.{alias.name}" for alias in node.names] + [node.module]
        else:
            continue
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module and name.split(".")[0] in PACKAGES:
                found.add(name)
    # `from a.b import c` names a.b too: keep the deepest module of each import only
    return {name for name in found if not any(other.startswith(name + ".") for other in found)} | {
        name for name in found if name.count(".") == 0
    }


GRAPH = {module: imported(module, tree) for _, module, tree in SOURCES}


def room(module):
    """Return the room of ``module``: ``receiver.<folder>``, ``jobs`` or ``scripts``."""
    parts = module.split(".")
    if parts[0] == "receiver" and len(parts) > 1:
        return ".".join(parts[:2])
    return parts[0]


def may_import(source, target):
    """Say whether room ``source`` may import room ``target``."""
    allowed = ROOMS[source]
    return target == source or target in allowed or ("receiver.*" in allowed and target.startswith("receiver."))


def test_every_module_has_a_room():
    assert not [module for module in MODULES if module != "receiver" and room(module) not in ROOMS]


def test_arrows_go_down_only():
    wrong = [
        f"{module} -> {target}"
        for module, targets in GRAPH.items()
        for target in targets
        if module != "receiver" and target != "receiver" and not may_import(room(module), room(target))
    ]
    assert not wrong, "\n".join(sorted(wrong))


def test_the_rooms_form_no_circle():
    done = set()

    def visit(name, trail):
        assert name not in trail, " -> ".join([*trail, name])
        if name in done:
            return
        for target in ROOMS[name]:
            if target in ROOMS:
                visit(target, [*trail, name])
        done.add(name)

    for name in ROOMS:
        visit(name, [])


def test_no_module_imports_itself_back():
    index, low, stack, on_stack, circles = {}, {}, [], set(), []

    def strong(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in GRAPH.get(node, ()):
            if target not in index:
                strong(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(GRAPH):
        if module not in index:
            strong(module)
    assert not circles


def test_our_redis_keys_and_queue_names_are_spelled_in_one_module():
    found = []
    for path, _, tree in SOURCES:
        if path == KEYS_MODULE:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                docstring_like = "\n" in node.value or node.value.endswith(".")
                if not docstring_like and KEY_TEXT.search(node.value):
                    found.append(f"{path}:{node.lineno}: {node.value!r}")
            if isinstance(node, ast.Attribute) and node.attr == "PREFIX" and getattr(node.value, "id", "") == "keys":
                found.append(f"{path}:{node.lineno}: keys.PREFIX")
    assert not found, "\n".join(found)


def test_scripts_holds_command_line_code_only():
    """A module of scripts/ defines a click command (or is one of the few CLI helpers) and imports click."""
    library = []
    for path, _, tree in SOURCES:
        if not path.startswith("scripts" + os.sep) or path.endswith("__init__.py"):
            continue
        text = ast.unparse(tree)
        is_command = re.search(r"@(click\.(command|group)|\w+\.command|\w+\.group)\(", text) is not None
        if not (path in CLI_HELPERS or (is_command and "click" in text)):
            library.append(path)
    assert not library


def test_mypy_checks_every_package_with_the_same_strictness():
    config = configparser.ConfigParser()
    config.read(os.path.join(ROOT, "setup.cfg"))
    checked = {name.strip() for name in config["mypy"]["files"].split(",")}
    assert checked == set(PACKAGES)
    strict = [section for section in config.sections() if section.startswith("mypy-")]
    assert strict == ["mypy-" + ",".join(f"{package}.*" for package in PACKAGES)]
    assert config[strict[0]].getboolean("disallow_untyped_defs")


def test_module_names_are_unique_but_for_a_command_and_the_library_it_shells():
    by_name = {}
    for path, module, _ in SOURCES:
        if not path.endswith(("__init__.py", "__main__.py")):
            by_name.setdefault(os.path.basename(path), []).append(module)
    # The two web apps are built alike: each has its factory and its gunicorn configuration.
    parallel = {"app.py": {"receiver.web.app", "receiver.inspector.app"}}
    parallel["gunicorn_conf.py"] = {"receiver.web.gunicorn_conf", "receiver.inspector.gunicorn_conf"}
    clashes = []
    for name, modules in by_name.items():
        if len(modules) < 2 or set(modules) == parallel.get(name):
            continue
        commands = [module for module in modules if module.startswith("scripts.")]
        libraries = [module for module in modules if not module.startswith("scripts.")]
        if not (len(commands) == 1 and len(libraries) == 1 and libraries[0] in GRAPH[commands[0]]):
            clashes.append(f"{name}: {', '.join(modules)}")
    assert not clashes


def test_class_names_are_unique():
    where = {}
    for path, _, tree in SOURCES:
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                where.setdefault(node.name, []).append(path)
    assert not {name: paths for name, paths in where.items() if len(paths) > 1}


@pytest.mark.parametrize("path", [path for path, _, _ in SOURCES], ids=str)
def test_every_module_opens_with_its_purpose(path):
    tree = next(tree for each, _, tree in SOURCES if each == path)
    docstring = ast.get_docstring(tree)
    assert docstring and docstring.splitlines()[0].strip(), f"{path} has no opening line"
