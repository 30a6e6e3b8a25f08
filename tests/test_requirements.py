"""Runtime and development requirements are separate pinned files: `make run` installs the service's
packages alone, and everything the service imports comes from them, never from a test tool."""
from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OWN = {"suppression", "workers", "seedlist", "config", "wsgi", "tests", "bench", "faults"}
SERVICE = [p for top in ("suppression", "workers", "seedlist", "config") for p in (ROOT / top).rglob("*.py")] + \
    [ROOT / "wsgi.py"]
DEVELOPMENT = [p for top in ("tests", "faults", "bench") for p in (ROOT / top).rglob("*.py")]
BENCH_SCRIPTS = {p.stem for p in (ROOT / "bench").glob("*.py")}  # faults/ imports bench's harness by name
DEV_ONLY = {"import-linter", "grimp", "pytest", "hypothesis", "requests", "selenium", "dnslib", "schemathesis"}


def name(distribution: str) -> str:
    """A distribution's name as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", distribution).lower()


def pins(file: str) -> dict[str, str]:
    """The file's requirements, name to line, with the files it includes (-r)."""
    found: dict[str, str] = {}
    for line in (ROOT / file).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith("-r "):
            found |= pins(line[3:].strip())
        elif line:
            found[name(re.split(r"[\[=<>~!; ]", line, maxsplit=1)[0])] = line
    return found


def imported(files: list[Path]) -> set[str]:
    """The top-level modules `files` import that are neither the standard library's nor ours
    (nor a script's neighbour in its own directory, as bench/ imports its harness)."""
    modules: set[str] = set()
    for path in files:
        neighbours = {p.stem for p in path.parent.glob("*.py")}
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found = {node.module.split(".")[0]}
            else:
                continue
            modules |= found - neighbours
    return modules - set(sys.stdlib_module_names) - OWN - BENCH_SCRIPTS


def unsatisfied(files: list[Path], pinned: dict[str, str]) -> dict[str, list[str]]:
    """Modules imported by `files` whose distribution is not pinned (module: its distributions)."""
    providers = packages_distributions()
    missing = {}
    for module in sorted(imported(files)):
        distributions = [name(d) for d in providers.get(module, [])]
        if not any(d in pinned for d in distributions):
            missing[module] = distributions
    return missing


def test_every_requirement_is_pinned():
    for file in ("requirements.txt", "requirements-dev.txt"):
        loose = [line for line in pins(file).values() if "==" not in line]
        assert loose == [], f"{file}: not pinned"


def test_the_runtime_file_holds_no_development_package():
    runtime, development = pins("requirements.txt"), pins("requirements-dev.txt")
    assert DEV_ONLY & set(runtime) == set()
    assert DEV_ONLY <= set(development)
    assert (ROOT / "requirements-dev.txt").read_text().count("-r requirements.txt") == 1
    assert set(runtime) <= set(development)


def test_everything_the_service_imports_is_a_runtime_requirement():
    assert imported(SERVICE) >= {"flask", "sqlalchemy", "rq"}  # the walk does find the imports
    assert unsatisfied(SERVICE, pins("requirements.txt")) == {}


def test_everything_tests_and_benchmarks_import_is_a_development_requirement():
    assert unsatisfied(DEVELOPMENT, pins("requirements-dev.txt")) == {}


def test_make_run_installs_the_runtime_file_and_make_test_the_development_one():
    makefile = (ROOT / "Makefile").read_text()
    targets = dict(re.findall(r"^([a-z-]+):([^\n=]*)$", makefile, re.M))
    for target in ("run", "worker"):
        assert "install" in targets[target].split() and "install-dev" not in targets[target].split()
    for target in ("test", "faults", "bench", "bench-unsubscribe"):
        assert "install-dev" in targets[target].split()
    runtime_rule = makefile.split("$(VENV)/.installed: requirements.txt", 1)[1].split("\n\n", 1)[0]
    assert "-r requirements.txt" in runtime_rule and "requirements-dev" not in runtime_rule
