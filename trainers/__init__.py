"""Training: the adversarial loop, its logging, checkpoints and configuration.

The names below are imported (with torch) on first use, so that commands which only read run folders
(`liegan export`, `liegan runs`) do not pay for torch.
"""

from liegan._lazy import lazy_exports

_EXPORTS = {
    "RunResult": "loop",
    "Trainer": "loop",
    "resolve_config": "configure",
    "resume_config": "configure",
    "train": "loop",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
