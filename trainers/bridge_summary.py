"""The `liegan bridge` result in words: each number with what it is, its unit, and the model it belongs to."""

from __future__ import annotations

from liegan.config import YKind

ACTIVATION = {"mlp": "ReLU", "leaky": "leaky-ReLU", "linear": "deep linear"}  # --model -> words


def _loss_unit(y_kind: str) -> str:
    if y_kind == YKind.CLASS:
        return "cross-entropy, nats"
    return "mean squared error of the scaled target"


def _to(n: int | None, s: float | None, steps: int) -> str:
    return f"not within {steps} steps" if n is None else f"{n} steps, {s:.2f} s of training"


def _predictor(res: dict) -> list[str]:
    info, cfg, fit = res["dataset"], res["config"]["predictor"], res["fit"]
    unit = _loss_unit(info["y_kind"])
    return [
        f"Predictor: a {ACTIVATION.get(cfg['model'], cfg['model'])} MLP (hidden widths {cfg['hidden']}) fitted by "
        f"{cfg['fit_steps']} Adam steps on {info['n_train']:,} samples of {info['dataset']} "
        f"(inputs divided by {info['input_scale']:.3g}).",
        f"  test loss {fit['test_loss']:.3g} on {info['n_test']:,} held-out samples "
        f"(training loss {fit['train_loss']:.3g}; {unit}).",
    ]


def _invariance(res: dict) -> list[str]:
    inv = res["invariance"]
    d = sum(c["change"] for c in inv["discovered"]) / max(len(inv["discovered"]), 1)
    r = sum(c["change"] for c in inv["random"]) / max(len(inv["random"]), 1)
    verdict = (
        "its loss is far flatter along the algebra than along random directions"
        if inv["invariance_ratio"] >= 10
        else "only weakly flatter along the algebra"
        if inv["invariance_ratio"] > 1.5
        else "no flatter along the algebra than along random directions"
    )
    return [
        f"Invariance: moving the predictor's weights along each discovered generator (step t = {inv['t']}) "
        f"changes its test loss by {d:.3g} on average; along {len(inv['random'])} random generators of the same "
        f"norms by {r:.3g}.",
        f"  ratio {inv['invariance_ratio']:.3g} (random / discovered; 1 is what chance gives): {verdict}.",
    ]


def _ensemble(res: dict) -> list[str]:
    e = res["ensemble"]
    helps = "lowers" if e["discovered"] < e["single"] else "does not lower"
    return [
        f"Symmetry ensemble: the predictor's predictions averaged over {e['members']} copies moved along the "
        f"algebra (coefficients {e['coefficients']}): test loss {e['discovered']:.4g}, against {e['single']:.4g} "
        f"for the predictor alone and {e['random']:.4g} for the same copies moved along random generators.",
        f"  Averaging over the algebra {helps} the test loss.",
    ]


def _against_larger_steps(d: dict) -> list[str]:
    """The teleported run against plain descent at larger step sizes, which may do as well without it."""
    runs = d.get("plain_lr_steps") or []
    if len(runs) < 2:
        return []
    tried = ", ".join(f"lr {lr:g}: {'not reached' if n is None else f'{n} steps'}" for lr, n in runs)
    lines = [f"  plain descent at larger step sizes, to the same target: {tried}."]
    if d["speedup_steps_vs_best_plain"] is not None:
        verdict = "a speed-up" if d["speedup_steps_vs_best_plain"] > 1 else "no speed-up"
        lines.append(
            f"    against the fastest of them (lr {d['best_plain_lr']:g}) the teleported run is "
            f"{d['speedup_steps_vs_best_plain']:.2f}x in steps: {verdict} beyond what a larger step size gives."
        )
    return lines


def _descent(res: dict) -> list[str]:
    d, cfg = res["descent"], res["config"]["descent"]
    unit, steps = _loss_unit(res["dataset"]["y_kind"]), cfg["steps"]
    batch = "full batch" if cfg["batch_size"] <= 0 else f"batches of {cfg['batch_size']}"
    when = f"at steps {cfg['teleport_at']}" + (f" and every {cfg['teleport_every']}" if cfg["teleport_every"] else "")
    lines = [
        f"Conserved quantities: under plain descent their relative drift reached {res['q_drift']:.3g} "
        f"(exact gradient flow keeps them at 0; a step of size lr moves them by O(lr^2)).",
        f"Teleportation, on a fresh copy of the same predictor (not the fitted one): gradient descent, lr {cfg['lr']}, "
        f"{batch}, {steps} steps, plain and with teleports {when} ({cfg['teleport_action']} action, "
        f"objective {cfg['objective']}).",
        f"  to {cfg['target']:g} x its initial training loss ({d['initial_loss']:.3g} -> {d['target']:.3g}, {unit}):",
        f"    plain {_to(d['steps_plain'], d['seconds_plain'], steps)}; "
        f"teleported {_to(d['steps_teleport'], d['seconds_teleport'], steps)}.",
    ]
    if d["speedup_steps"] is not None:
        lines.append(
            f"    speed-up {d['speedup_steps']:.2f}x in steps, {d['speedup_seconds']:.2f}x in training time "
            "(teleports included)."
        )
    lines += _against_larger_steps(d)
    for t in d["teleports"]:
        worst = max((b["loss_change"] for b in t["batches"]), default=0.0)
        lines.append(
            f"  teleport at step {t['step']}: loss on its batch kept to {worst:.1g} relative, training loss "
            f"{t['train_before']:.4g} -> {t['train_after']:.4g}, {t['seconds']:.2f} s."
        )
    lines.append(
        f"  after {steps} steps: training loss {d['final_plain']:.4g} plain, {d['final_teleport']:.4g} "
        f"teleported; validation loss {d['val_final_plain']:.4g} and {d['val_final_teleport']:.4g}."
    )
    return lines


def summary(res: dict) -> list[str]:
    """Lines for the terminal, in the order the pipeline ran."""
    return (
        _predictor(res)
        + _invariance(res)
        + _ensemble(res)
        + _descent(res)
        + [f"Written: {res['out']}/bridge.json and TensorBoard events ({res['seconds']:.0f} s in all)."]
    )
