"""How the benchmarks start the original LieGAN code: its main_lagan.py run as __main__ from its checkout,
with its own interpreter and unchanged.  Its dataset module imports torchvision, which only its rotated-MNIST
experiment uses and PyPI ships only for torch's CUDA build: where that import fails, empty stand-in modules
take its place."""

from __future__ import annotations

import subprocess

STAND_INS = """
import runpy, sys, types
try:
    import torchvision
except Exception:
    tv = types.ModuleType("torchvision")
    tv.datasets, tv.transforms = types.ModuleType("torchvision.datasets"), types.ModuleType("torchvision.transforms")
    tv.transforms.functional = types.ModuleType("torchvision.transforms.functional")
    sys.modules.update({m.__name__: m for m in (tv, tv.datasets, tv.transforms, tv.transforms.functional)})
"""
RUN_MAIN = """
sys.argv = ["main_lagan.py"] + sys.argv[1:]
sys.path.insert(0, ".")
runpy.run_path("main_lagan.py", run_name="__main__")
"""


def original_command(python: str, args: list[str], setup: str = "") -> list[str]:
    """The command that runs main_lagan.py with ``args``; ``setup``: Python run first (e.g. print options)."""
    return [python, "-u", "-c", STAND_INS + setup + RUN_MAIN, *args]


def torchvision_works(python: str) -> bool:
    return subprocess.run([python, "-c", "import torchvision"], capture_output=True).returncode == 0
