"""The layers of docs/DESIGN.md hold: import-linter's contracts (.importlinter) are kept, and every
module of suppression/ is placed in a layer, so a new one cannot slip past the contracts."""
from __future__ import annotations

import configparser
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import suppression

ROOT = Path(__file__).resolve().parent.parent


def test_the_import_contracts_are_kept():
    linter = Path(sys.executable).parent / "lint-imports"
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_every_module_of_the_service_has_a_layer():
    contracts = configparser.ConfigParser()
    contracts.read(ROOT / ".importlinter")
    declared = set(re.split(r"[\s|:]+", contracts["importlinter:contract:layers"]["layers"].strip()))
    modules = {f"suppression.{m.name}" for m in pkgutil.iter_modules(suppression.__path__)}
    assert modules - declared == set(), "add these modules to a layer in .importlinter"
