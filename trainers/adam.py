"""Adam through torch's fused kernel, without torch.optim.

Building any torch.optim optimiser imports torch._dynamo (about 1.3 s on the 2-core development VM: longer
than a default two-body run takes from its first step to its answer), although plain Adam never compiles
anything.  :class:`FusedAdam` makes the call that ``torch.optim.Adam(..., fused=True)`` makes for plain Adam
(no weight decay, amsgrad or maximize): the same step counter, the same kernel, so bitwise the same updates.
Its ``state_dict`` has torch.optim.Adam's layout, so a checkpoint written by either loads into either.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

# the hyperparameters torch.optim.Adam stores in a parameter group, as it sets them for fused plain Adam
_GROUP_DEFAULTS = {
    "weight_decay": 0.0,
    "amsgrad": False,
    "maximize": False,
    "foreach": None,
    "capturable": False,
    "differentiable": False,
    "fused": True,
    "decoupled_weight_decay": False,
}


class FusedAdam:
    """Adam (Kingma & Ba) over one parameter group on CPU or CUDA; ``param_groups[0]['lr']`` may be changed
    between steps, as with torch.optim."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, betas=(0.9, 0.999), eps: float = 1e-8):
        params = list(params)
        for p in params:
            if p.device.type not in ("cpu", "cuda") or not p.is_floating_point():
                raise ValueError(f"FusedAdam needs floating-point CPU or CUDA parameters, got {p.dtype} on {p.device}")
        self.param_groups = [{"lr": lr, "betas": tuple(betas), "eps": eps, **_GROUP_DEFAULTS, "params": params}]
        self.state: dict[torch.Tensor, dict[str, torch.Tensor]] = {}

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.param_groups[0]["params"]:
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad.detach_().zero_()

    @torch.no_grad()
    def step(self) -> None:
        group = self.param_groups[0]
        by_kind: dict[tuple, list[torch.Tensor]] = {}  # the kernel takes tensors of one device and dtype
        for p in group["params"]:
            if p.grad is not None:
                by_kind.setdefault((p.device, p.dtype), []).append(p)
        beta1, beta2 = group["betas"]
        for params in by_kind.values():
            states = [self._state(p) for p in params]
            steps = [s["step"] for s in states]
            torch._foreach_add_(steps, 1)
            torch._fused_adam_(
                params,
                [p.grad for p in params],
                [s["exp_avg"] for s in states],
                [s["exp_avg_sq"] for s in states],
                [],
                steps,
                amsgrad=False,
                lr=group["lr"],
                beta1=beta1,
                beta2=beta2,
                weight_decay=0.0,
                eps=group["eps"],
                maximize=False,
                grad_scale=None,
                found_inf=None,
            )

    def _state(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        if p not in self.state:  # as torch.optim.Adam: a float32 step counter on the parameter's device
            zeros = torch.zeros_like(p, memory_format=torch.preserve_format)
            self.state[p] = {
                "step": torch.zeros((), dtype=torch.float32, device=p.device),
                "exp_avg": zeros,
                "exp_avg_sq": zeros.clone(),
            }
        return self.state[p]

    def state_dict(self) -> dict:
        """torch.optim.Adam's layout: per-parameter state by index, the group with parameter indices."""
        params = self.param_groups[0]["params"]
        group = {k: v for k, v in self.param_groups[0].items() if k != "params"}
        state = {i: dict(self.state[p]) for i, p in enumerate(params) if p in self.state}
        return {"state": state, "param_groups": [group | {"params": list(range(len(params)))}]}

    def load_state_dict(self, sd: dict) -> None:
        """A state written by this class or by torch.optim.Adam (fused or not) for the same parameters."""
        groups = sd["param_groups"]
        params = self.param_groups[0]["params"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(params):
            raise ValueError("loaded state dict does not match this optimizer's one group of parameters")
        if groups[0].get("weight_decay") or groups[0].get("amsgrad") or groups[0].get("maximize"):
            raise ValueError("loaded state dict is not of plain Adam (weight decay, amsgrad or maximize)")
        index = {saved: i for i, saved in enumerate(groups[0]["params"])}
        self.state = {}
        for saved, s in sd["state"].items():
            p = params[index[saved]]
            self.state[p] = {
                "step": s["step"].to(dtype=torch.float32, device=p.device).clone(),
                "exp_avg": s["exp_avg"].to(dtype=p.dtype, device=p.device).clone(),
                "exp_avg_sq": s["exp_avg_sq"].to(dtype=p.dtype, device=p.device).clone(),
            }
        keep = {k: v for k, v in groups[0].items() if k != "params"}
        self.param_groups[0].update(keep | {"betas": tuple(keep["betas"]), "fused": True})
