"""FusedAdam against torch.optim.Adam(fused=True): bitwise the same updates, interchangeable state dicts,
and no torch._dynamo import."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from liegan.trainers.adam import FusedAdam


def _params(seed: int = 0) -> list[torch.nn.Parameter]:
    g = torch.Generator().manual_seed(seed)
    return [torch.nn.Parameter(torch.randn(3, 5, generator=g)), torch.nn.Parameter(torch.randn(7, generator=g))]


def _run(opt, params, steps: range, seed: int = 1) -> None:
    for k in steps:
        g = torch.Generator().manual_seed(seed + k)
        for p in params:
            p.grad = torch.randn(p.shape, generator=g)
        opt.param_groups[0]["lr"] = 1e-2 * (1 + k % 3)  # the trainer's schedules change lr between steps
        opt.step()
        opt.zero_grad(set_to_none=True)


def _torch_adam(params):
    return torch.optim.Adam(params, lr=1e-2, betas=(0.5, 0.999), fused=True)


def test_updates_and_state_are_bitwise_torch_adams():
    ours, ref = _params(), _params()
    a, b = FusedAdam(ours, lr=1e-2, betas=(0.5, 0.999)), _torch_adam(ref)
    _run(a, ours, range(20))
    _run(b, ref, range(20))
    for p, q in zip(ours, ref, strict=True):
        assert torch.equal(p, q)
    sa, sb = a.state_dict(), b.state_dict()
    assert sa["param_groups"] == sb["param_groups"]
    for i in sb["state"]:
        for key, v in sb["state"][i].items():
            assert torch.equal(sa["state"][i][key], v) and sa["state"][i][key].dtype == v.dtype, key


@pytest.mark.parametrize("first", ["torch", "ours"])
def test_state_dicts_are_interchangeable(first):
    """Five steps by one, its state loaded into the other, five more: the same as ten steps by torch."""
    make = {"torch": lambda ps: _torch_adam(ps), "ours": lambda ps: FusedAdam(ps, lr=1e-2, betas=(0.5, 0.999))}
    second = "ours" if first == "torch" else "torch"
    ps, ref = _params(), _params()
    a = make[first](ps)
    _run(a, ps, range(5))
    b = make[second](ps)
    b.load_state_dict(a.state_dict())
    _run(b, ps, range(5, 10))
    r = _torch_adam(ref)
    _run(r, ref, range(10))
    for p, q in zip(ps, ref, strict=True):
        assert torch.equal(p, q)
    # negative control: starting the second half from fresh moments does not give the same parameters
    fresh = _params()
    c = make[first](fresh)
    _run(c, fresh, range(5))
    _run(make[second](fresh), fresh, range(5, 10))
    assert not torch.equal(fresh[0], ref[0])


def test_a_state_of_another_adam_variant_is_refused():
    ps = _params()
    other = torch.optim.Adam(ps, lr=1e-2, weight_decay=0.1)
    _run(other, ps, range(2))
    with pytest.raises(ValueError, match="plain Adam"):
        FusedAdam(ps, lr=1e-2).load_state_dict(other.state_dict())
    with pytest.raises(ValueError, match="group"):
        FusedAdam(ps[:1], lr=1e-2).load_state_dict(other.state_dict())


@pytest.mark.slow
def test_no_dynamo_import_while_torch_optim_imports_it():
    code = """
import sys, torch
from liegan.trainers.adam import FusedAdam
p = torch.nn.Parameter(torch.ones(2)); p.grad = torch.ones(2)
opt = FusedAdam([p], lr=0.1); opt.step(); opt.state_dict()
print("torch._dynamo" in sys.modules)
torch.optim.Adam([p], lr=0.1, fused=True).step()  # the negative control: torch.optim does import it
print("torch._dynamo" in sys.modules)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "True"]
