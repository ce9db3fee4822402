"""Cost of one training step (generator step + discriminator step) for every built-in dataset's default preset.

    python benchmarks/step_cost.py [--datasets twobody threebody rotation7 topquark rotmnist] [--steps 200]
                                   [--repeats 3] [--exp liegan|torch] [--threads 1]

For each dataset: the preset's Trainer on its own data (top-quark: 20k synthetic jets, written once under
/tmp/liegan-bench; the batch, models and optimisers are the preset's, so the step is the one a full run
takes), a warm-up of 20 steps, then --repeats blocks of --steps timed steps (Trainer.step and commit, what
the loop does per step apart from its health check and logging).  Prints the median ms/step over the
blocks and, for the generator's exponential alone (forward and backward of liegan.lie.matrix_exp on a batch
of the preset's size and shape), the same for torch.linalg.matrix_exp.

--exp torch runs the steps with torch.linalg.matrix_exp in place of liegan.lie.matrix_exp, to show what the
Taylor path saves inside a step.  For a "before" figure, run this script with PYTHONPATH pointing at an
install of the older liegan (e.g. `pip install --no-deps --target DIR <old checkout>`).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

DATASETS = ("twobody", "threebody", "rotation7", "topquark", "rotmnist")
JETS = 20_000


def _timed(fn, steps: int, repeats: int) -> float:
    """Median over ``repeats`` blocks of the mean ms per call of ``fn`` over ``steps`` calls."""
    blocks = []
    for _ in range(repeats):
        t = time.perf_counter()
        for _ in range(steps):
            fn()
        blocks.append((time.perf_counter() - t) / steps * 1e3)
    return statistics.median(blocks)


def _trainer(dataset: str):
    import torch

    import liegan.trainers.loop as loop
    from liegan.trainers.configure import resolve_config

    over = {"run.logdir": "/tmp/liegan-bench/step-runs", "train.seed": 0}
    if dataset == "topquark":
        root = Path(f"/tmp/liegan-bench/topquark-synth-{JETS}")
        if not (root / "topquark" / "train.h5").exists():
            from liegan.datasets.topquark_synth import synthesize

            synthesize(root / "topquark", JETS, seed=0, splits=("train",))
        over |= {"data.data_dir": str(root), "data.n_samples": JETS}
    cfg = resolve_config(dataset, overrides=over)
    return loop.Trainer(cfg, loop.load_dataset(cfg.data), torch.device("cpu"))


def _exp_cost(trainer, steps: int, repeats: int) -> tuple[float, float]:
    """ms per forward + backward of the generator's exponential: (liegan.lie.matrix_exp, torch's)."""
    import torch

    import liegan.lie
    from liegan.lie import combine

    # a liegan from before liegan.lie.matrix_exp (a "before" measurement with PYTHONPATH) has torch's only
    matrix_exp = getattr(liegan.lie, "matrix_exp", torch.linalg.matrix_exp)

    G, b = trainer.G, trainer.cfg.train.batch_size
    z = G.coefficients(b, G.mask.device)
    L = G.effective().detach().requires_grad_()
    W = torch.randn(b, *L.shape[1:])

    def run(fn):
        def once():
            L.grad = None
            (fn(combine(z, L)) * W).sum().backward()

        once()
        return _timed(once, steps, repeats)

    return run(matrix_exp), run(torch.linalg.matrix_exp)


def main() -> int:
    from liegan.cli import Parser

    ap = Parser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=DATASETS)
    ap.add_argument("--steps", type=int, default=200, help="timed steps per block")
    ap.add_argument("--repeats", type=int, default=3, help="timed blocks (the median is printed)")
    ap.add_argument("--exp", choices=("liegan", "torch"), default="liegan", help="the exponential inside the steps")
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (the presets' default is 1)")
    args = ap.parse_args()

    import torch

    import liegan.lie

    torch.set_num_threads(args.threads)
    if args.exp == "torch":
        liegan.lie.matrix_exp = torch.linalg.matrix_exp  # exp_map looks the name up at call time
    print(f"torch {torch.__version__}, {args.threads} thread(s), exponential in the steps: {args.exp}")
    print(f"{'dataset':10s} {'batch':>6s} {'n':>3s} {'c':>3s}  {'ms/step':>8s}  {'exp ms':>7s}  {'torch exp ms':>12s}")
    for ds in args.datasets:
        trainer = _trainer(ds)

        def step(trainer=trainer):
            if trainer.step_in_epoch == trainer.n_batches:  # small data sets: an epoch ends within the timing
                trainer.end_epoch()
            trainer.commit(trainer.step())

        for _ in range(20):
            step()
        ms = _timed(step, args.steps, args.repeats)
        ours, theirs = _exp_cost(trainer, args.steps, args.repeats)
        L = trainer.G.L
        print(
            f"{ds:10s} {trainer.cfg.train.batch_size:6d} {L.shape[-1]:3d} {L.shape[0]:3d}  {ms:8.2f}  {ours:7.3f}"
            f"  {theirs:12.3f}"
        )
    print("ms: median over the blocks of the mean per step; 'exp': forward + backward of g = exp(sum z_i L_i)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
