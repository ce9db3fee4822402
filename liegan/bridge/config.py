"""The options of `liegan bridge`, apart from the code that runs it, so that building the command line
(`liegan --help`) does not import torch."""

from __future__ import annotations

from dataclasses import dataclass, field

MODELS = {"mlp": "relu", "linear": "identity"}  # --model -> hidden activation (each has an exact action)


@dataclass
class BridgeConfig:
    model: str = "mlp"  # 'mlp' (ReLU: neuron rescaling) or 'linear' (deep linear: GL_h)
    hidden: list[int] = field(default_factory=lambda: [32, 32])
    # Samples for the predictor (a quarter held out).  A top-tagging classifier fitted on 1,500 jets
    # overfits (test loss 0.72, above ln 2) and is no more invariant along so(1,3) than along random
    # generators; on 15,000 it generalises (test loss 0.57) and the ratio is 2 (5 on 45,000).
    max_samples: int = 20_000
    test_fraction: float = 0.25
    fit_steps: int = 600  # Adam, full batch
    fit_lr: float = 3e-3
    t: float = 0.1  # step along each generator for the invariance figures
    n_random: int = 8  # random generators of equal norm to compare against
    gd_steps: int = 300  # plain gradient descent for the conservation and teleportation figures
    gd_lr: float = 0.05
    teleport_every: int | None = None  # None: teleport once, at the start
    teleport_steps: int = 20
    teleport_lr: float = 0.2
    ensemble_members: int = 16
    ensemble_sigma: float | None = None  # None: the coefficient spread the algebra was trained with
    seed: int = 0
