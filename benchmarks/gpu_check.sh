#!/usr/bin/env bash
# GPU check in one short run: the two-body and top-quark benchmarks on CUDA, then training throughput
# (steps and samples per second) on CUDA next to the CPU of the same machine.
#
#     bash benchmarks/gpu_check.sh            # PYTHON=... to pick the interpreter (default: python)
#     JETS=50000 bash benchmarks/gpu_check.sh # top-quark benchmark size (default 50000 synthetic jets)
#
# Exits non-zero if no CUDA device is visible.  Takes a few minutes (the top-quark synthetic jets are made
# once, under /tmp/liegan-bench, and reused).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
JETS=${JETS:-50000}

"$PY" - <<'PYEOF'
import sys, torch
if not torch.cuda.is_available():
    sys.exit("gpu_check: no CUDA device visible to torch " + torch.__version__)
print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}")
PYEOF

echo; echo "== two-body: time to so(2) on cuda (seeds 0 1)"
"$PY" benchmarks/twobody.py --seeds 0 1 --set train.device=cuda

echo; echo "== two-body throughput, 1 process: cuda, then cpu"
"$PY" benchmarks/ddp.py --nprocs 1 --device cuda --dataset twobody --n-samples 40000
"$PY" benchmarks/ddp.py --nprocs 1 --device cpu --dataset twobody --n-samples 40000

if [ -f benchmarks/topquark.py ]; then
  echo; echo "== top quark ($JETS synthetic jets) on cuda"
  "$PY" benchmarks/topquark.py --jets "$JETS" --set train.device=cuda
  DATA="/tmp/liegan-bench/topquark-synth-$JETS"
  echo; echo "== top-quark throughput, 1 process: cuda, then cpu"
  "$PY" benchmarks/ddp.py --nprocs 1 --device cuda --dataset topquark --n-samples "$JETS" --set "data.data_dir=$DATA"
  "$PY" benchmarks/ddp.py --nprocs 1 --device cpu --dataset topquark --n-samples "$JETS" --set "data.data_dir=$DATA"
else
  echo; echo "(benchmarks/topquark.py not present: top-quark check skipped)"
fi

if [ "$("$PY" -c 'import torch; print(torch.cuda.device_count())')" -ge 2 ]; then
  echo; echo "== DDP over 2 GPUs (NCCL)"
  "$PY" benchmarks/ddp.py --nprocs 1 2 --weak --device cuda --dataset twobody --n-samples 40000
fi
