"""Figures (matplotlib, an optional extra): learned and true neurons, weights, spectra, benchmark curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .metrics import recovery_report
from .network import ReLUNetwork

__all__ = ["neurons_figure", "curves_figure", "safran_figure", "save"]


def _pyplot():
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError('plots need matplotlib: pip install "narrowrelu[cli]"') from None
    return plt


def _plane(net: ReLUNetwork, truth: ReLUNetwork | None) -> np.ndarray:
    """The two leading directions of the neurons' span (weighted by |weight|), as rows."""
    U = np.vstack([n.directions * np.abs(n.weights)[:, None] for n in (net, truth) if n is not None and n.k])
    if U.shape[0] == 0:
        return np.eye(2, net.d)
    basis = np.linalg.svd(U, full_matrices=False)[2][:2]
    return np.vstack([basis, np.zeros((2 - len(basis), net.d))]) if len(basis) < 2 else basis


def neurons_figure(net: ReLUNetwork, truth: ReLUNetwork | None = None, title: str = ""):
    """Three panels: neurons in the plane of the two leading subspace directions (arrow length
    |weight|, colour the weight's sign; truth dashed), weights of matched neurons, and the
    spectra the report recorded (eigenvalues against thresholds)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.8))
    plane = _plane(net, truth)
    ax = axes[0]
    for model, style, label in ((truth, "--", "true"), (net, "-", "learned")):
        if model is None:
            continue
        P = (model.directions / np.linalg.norm(model.directions, axis=1, keepdims=True)) @ plane.T
        for i, (px, py) in enumerate(P * np.abs(model.weights)[:, None]):
            colour = "tab:blue" if model.weights[i] > 0 else "tab:red"
            ax.annotate("", (px, py), (0, 0), arrowprops={"arrowstyle": "->", "ls": style, "color": colour,
                                                          "lw": 1.2 if style == "-" else 2.0, "alpha": 0.9})
        ax.plot([], [], style, color="grey", label=label)
    span = max(1e-9, *(np.abs(m.weights).max() for m in (net, truth) if m is not None and m.k))
    ax.set(xlim=(-1.1 * span, 1.1 * span), ylim=(-1.1 * span, 1.1 * span), aspect="equal",
           title="neurons: |weight| x direction in the leading plane", xlabel="direction 1", ylabel="direction 2")
    ax.legend(loc="upper right", fontsize=8)
    ax = axes[1]
    if truth is not None:
        matches = recovery_report(net, truth).matches
        x = np.arange(len(matches))
        ax.bar(x - 0.2, [m.truth_weight for m in matches], 0.4, label="true", color="lightgrey")
        ax.bar(x + 0.2, [m.estimate_weight for m in matches], 0.4, label="learned", color="tab:blue")
        ax.set(title="weights of matched neurons", xlabel="true neuron")
        ax.legend(fontsize=8)
    else:
        ax.bar(np.arange(net.k), net.weights, color="tab:blue")
        ax.set(title="weights", xlabel="neuron")
    ax = axes[2]
    stages = [s for s in getattr(net.report, "stages", []) if s["stage"] == "subspace"]
    for i, s in enumerate(stages):
        ratios = np.abs(s["eigenvalues"]) / s["noise"] if "eigenvalues" in s else np.array(s.get("signal_to_noise", []))
        if len(ratios):
            ax.semilogy(np.arange(1, len(ratios) + 1), ratios, "o-", label=f"subspace stage {i + 1}")
    if stages:
        ax.axhline(stages[0].get("threshold", 4), color="grey", ls=":", label="threshold")
        ax.legend(fontsize=8)
    ax.set(title="significant directions found (report)", xlabel="rank", ylabel="|eigenvalue| / noise")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def save(fig, path) -> Path:
    """Write ``fig`` to ``path`` (PNG) and close it."""
    path = Path(path)
    fig.savefig(path, dpi=110)
    _pyplot().close(fig)
    return path


def curves_figure(rows: list[dict], x: str, y: str, ylabel: str, log: bool, title: str = ""):
    """One line per method (and family) of ``y`` against ``x`` from harness summary rows."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    lines: dict[str, list[tuple[float, float]]] = {}
    for r in rows:
        lines.setdefault(f"{r['method']} ({r['family']})", []).append((r[x], r[y]))
    for label, points in sorted(lines.items()):
        points.sort()
        ax.plot(*zip(*points, strict=True), "o-", label=label)
    if log:
        ax.set_xscale("log")
        ax.set_yscale("log")
    ax.set(xlabel=x.replace("_", " "), ylabel=ylabel, title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def safran_figure(population: list[dict], from_samples: list[dict]):
    """% spurious minima of population GD (reference and ours, binomial error bars) and the
    share of seeds ``auto`` recovers from samples, against k = d."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    population = sorted(population, key=lambda r: r["k"])
    ks = [r["k"] for r in population]
    reference = [(r["k"], r["reference_percent"]) for r in population if r["reference_percent"] is not None]
    ax.plot(*zip(*reference, strict=True), "s--", color="grey", label="Safran & Shamir 2018 (1000 runs)")
    ax.errorbar(ks, [r["spurious_percent"] for r in population],
                yerr=[2 * r["standard_error_percent"] for r in population], fmt="o-", capsize=3,
                label="our population GD (± 2 s.e.)")
    for method in sorted({r["method"] for r in from_samples}):
        points = sorted((r["k"], 100 * (1 - r["recovered"] / r["runs"])) for r in from_samples if r["method"] == method)
        ax.plot(*zip(*points, strict=True), "^-", label=f"{method} from samples: % of seeds not recovered")
    ax.set(xlabel="k = d", ylabel="% of runs failing", title="orthonormal targets (Safran–Shamir)", ylim=(-3, 103))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
