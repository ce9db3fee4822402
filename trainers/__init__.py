"""Training: the adversarial loop, its logging, checkpoints and configuration."""

from liegan.trainers.configure import resolve_config
from liegan.trainers.loop import RunResult, Trainer, resume_config, train

__all__ = ["RunResult", "Trainer", "resolve_config", "resume_config", "train"]
