"""The core (liegan/, the parameter-space library included) imports nothing from the packages above it."""

import ast
from pathlib import Path

import pytest

import liegan

ABOVE = ("liegan.datasets", "liegan.trainers", "liegan.analysis")
CORE = Path(liegan.__file__).parent


def upward_imports(source: str, module: str) -> list[str]:
    """Every import of a package in ABOVE in ``source`` (the text of ``module``), at any depth: inside
    functions, classes and conditionals too, relative imports resolved against ``module``."""
    found = []
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found += [f"line {node.lineno}: {n}" for n in names if any(n == a or n.startswith(a + ".") for a in ABOVE)]
    return found


def _core_modules():
    for path in sorted(CORE.rglob("*.py")):
        rel = path.relative_to(CORE.parent).with_suffix("")
        yield pytest.param(path, ".".join(rel.parts), id=str(path.relative_to(CORE)))


@pytest.mark.parametrize("path, module", list(_core_modules()))
def test_core_module_imports_nothing_above_it(path, module):
    assert upward_imports(path.read_text(), module) == [], module


@pytest.mark.parametrize(
    "source",
    [
        "def f():\n    from liegan.datasets import load_dataset\n",
        "import liegan.trainers.loop as loop\n",
        "class A:\n    def m(self):\n        if True:\n            import liegan.analysis.discrete\n",
        "from liegan import analysis\n",
        "from .. import trainers\n",
        "from ..datasets.base import Dataset\n",
    ],
)
def test_the_check_finds_upward_imports_wherever_they_hide(source):
    """Negative control: each of these would be an upward import from liegan/bridge/x.py."""
    assert upward_imports(source, "liegan.bridge.x"), source


def test_the_check_passes_imports_within_the_core():
    ok = "from liegan.lie import exp_map\nfrom . import actions\nfrom ..config import BridgeConfig\nimport torch\n"
    assert upward_imports(ok, "liegan.bridge.x") == []
