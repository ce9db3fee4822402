"""Detecting a training run that has gone wrong, and the one recovery the loop attempts.

Three faults are watched after every step (on all ranks alike: the numbers are all-reduced first):
  * non-finite: a loss or a generator entry is NaN or inf;
  * exploding generator: some channel of L * M has Frobenius norm above ``max_generator_norm``
    (exp(z L) then overflows float32 or turns every sample into noise);
  * collapsed discriminator: for ``collapse_steps`` consecutive steps D gives real samples mean
    probability above 1 - ``collapse_prob`` and transformed ones below ``collapse_prob``; it separates them
    perfectly, so the generator's transformations are not symmetries and its gradient carries no signal.

The thresholds are the [train] config's (``max_generator_norm``, ``collapse_prob``, ``collapse_steps``,
``fault_retries``; 0 disables the norm and collapse checks).

Recovery: the loop keeps in memory the state at the last epoch boundary (models, optimisers, RNG states).
On a fault it reloads that state, halves both learning rates and goes on, at most ``fault_retries`` times per
run; the next fault stops the run with a TrainingError naming the fault, the step and the last checkpoint
on disk.  ``fault_retries = 0`` stops at the first fault.  Reloading the RNG states keeps a recovered run
reproducible: the same seed gives the same recoveries and the same result.
"""

from __future__ import annotations

import torch

from liegan.config import TrainConfig

# indices into the per-step health vector (see health())
NONFINITE, NORM, REAL, FAKE, STOP = range(5)


def health(stats: dict[str, torch.Tensor], L: torch.Tensor, stop: bool) -> torch.Tensor:
    """The step's vital signs as one small tensor on the device, so that checking them (and agreeing on
    them across ranks) costs one host sync and one all-reduce: [any non-finite, largest channel norm,
    D's mean real probability, D's mean fake probability, a stop signal]."""
    vals = torch.stack([v.detach().float().reshape(()) for v in stats.values()])
    nonfinite = (~torch.isfinite(vals)).any() | (~torch.isfinite(L)).any()
    return torch.stack(
        [
            nonfinite.float(),
            L.detach().flatten(1).norm(dim=1).max().float(),
            stats["disc/real_prob"].detach().float(),
            stats["disc/fake_prob"].detach().float(),
            torch.tensor(float(stop), device=L.device),
        ]
    )


class FaultMonitor:
    """Turns the per-step health values into a fault description (or None)."""

    def __init__(self, train_cfg: TrainConfig):
        self.policy = train_cfg  # max_generator_norm, collapse_prob, collapse_steps (fault_retries: the loop)
        self.saturated = 0  # consecutive steps with a saturated discriminator

    def reset(self) -> None:
        self.saturated = 0

    def check(self, h: list[float]) -> tuple[str, str] | None:
        """(kind, detail) of the first fault seen in the health values h, or None."""
        p = self.policy
        if h[NONFINITE] > 0:
            return "non-finite", ""
        if p.max_generator_norm > 0 and h[NORM] > p.max_generator_norm:
            return "exploding generator", (
                f"a channel of L has norm {h[NORM]:.4g} > max_generator_norm {p.max_generator_norm:g}"
            )
        if p.collapse_steps > 0 and h[REAL] > 1 - p.collapse_prob and h[FAKE] < p.collapse_prob:
            self.saturated += 1
            if self.saturated >= p.collapse_steps:
                return "collapsed discriminator", (
                    f"D has separated real from transformed samples for {self.saturated} steps (mean probabilities "
                    f"{h[REAL]:.4f} and {h[FAKE]:.2e}), so the transformations are not symmetries of the data"
                )
        else:
            self.saturated = 0
        return None
