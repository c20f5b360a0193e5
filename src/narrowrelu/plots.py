"""Figures (matplotlib, an optional extra): learned and true neurons, weights, spectra, benchmark curves.

Figures are :class:`matplotlib.figure.Figure` objects drawn without pyplot, so importing this
module or drawing a figure never changes the user's matplotlib backend or global state.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .metrics import recovery_report
from .network import ReLUNetwork

__all__ = ["neurons_figure", "curves_figure", "safran_figure", "save"]


def _figure(figsize: tuple[float, float]):
    """A new figure outside pyplot (no backend switch, nothing registered globally)."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError('plots need matplotlib: pip install "narrowrelu[cli]"') from None
    return Figure(figsize=figsize)


def _plane(net: ReLUNetwork, truth: ReLUNetwork | None) -> np.ndarray:
    """The two leading directions of the neurons' span (weighted by |weight|), as rows."""
    U = np.vstack([n.directions * np.abs(n.weights)[:, None] for n in (net, truth) if n is not None and n.k])
    if U.shape[0] == 0:
        return np.eye(2, net.d)
    basis = np.linalg.svd(U, full_matrices=False)[2][:2]
    return np.vstack([basis, np.zeros((2 - len(basis), net.d))]) if len(basis) < 2 else basis


def _neurons(ax, model: ReLUNetwork, truth: ReLUNetwork | None, plane: np.ndarray, span: float, name: str) -> None:
    """Arrows |weight| x direction projected on ``plane``, blue for positive weights; the truth dashed."""
    for net, style, label in ((truth, "--", "true"), (model, "-", name)):
        if net is None:
            continue
        P = (net.directions / np.linalg.norm(net.directions, axis=1, keepdims=True)) @ plane.T
        for i, (px, py) in enumerate(P * np.abs(net.weights)[:, None]):
            colour = "tab:blue" if net.weights[i] > 0 else "tab:red"
            ax.annotate("", (px, py), (0, 0), arrowprops={"arrowstyle": "->", "ls": style, "color": colour,
                                                          "lw": 1.2 if style == "-" else 2.0, "alpha": 0.9})
        ax.plot([], [], style, color="grey", label=label)
    ax.set(xlim=(-1.1 * span, 1.1 * span), ylim=(-1.1 * span, 1.1 * span), aspect="equal",
           title=f"{name}: |weight| x direction, leading plane", xlabel="direction 1", ylabel="direction 2")
    ax.legend(loc="upper right", fontsize=8)


def _weights(ax, models: dict[str, ReLUNetwork], truth: ReLUNetwork | None) -> None:
    """Weights of each model's neurons matched to the true ones (bars side by side), or the weights."""
    if truth is None:
        name, net = next(iter(models.items()))
        ax.bar(np.arange(net.k), net.weights, color="tab:blue")
        ax.set(title=f"weights ({name})", xlabel="neuron")
        return
    width = 0.8 / (len(models) + 1)
    x = np.arange(truth.k)
    ax.bar(x - 0.4 + width / 2, truth.weights, width, label="true", color="lightgrey")
    for j, (name, net) in enumerate(models.items(), start=1):
        matched = np.full(truth.k, np.nan)
        for m in recovery_report(net, truth).matches:
            matched[m.truth_index] = m.estimate_weight
        ax.bar(x - 0.4 + (j + 0.5) * width, np.nan_to_num(matched), width, label=name)
    ax.set(title="weights of matched neurons", xlabel="true neuron", xticks=x)
    ax.legend(fontsize=8)


def neurons_figure(net: ReLUNetwork, truth: ReLUNetwork | None = None, title: str = "", *,
                   name: str = "learned", others: dict[str, ReLUNetwork] | None = None):
    """Neurons in the plane of the two leading directions of the span (arrow length |weight|,
    colour the weight's sign; truth dashed), one panel for ``net`` (``name``) and one for each
    network of ``others`` (a baseline, say) in the same plane; the weights of matched neurons;
    and the spectra ``net``'s report recorded (signal-to-noise against the threshold)."""
    models = {name: net} | dict(others or {})
    fig = _figure((5 * (len(models) + 2), 4.8))
    axes = fig.subplots(1, len(models) + 2)
    plane = _plane(net, truth)
    span = max(1e-9, *(np.abs(m.weights).max() for m in (*models.values(), truth) if m is not None and m.k))
    for ax, (label, model) in zip(axes, models.items(), strict=False):
        _neurons(ax, model, truth, plane, span, label)
    _weights(axes[-2], models, truth)
    _spectra(axes[-1], getattr(net.report, "stages", None) or [])
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def _spectra(ax, stages: list[dict]) -> None:
    """The subspace stages' recorded signal-to-noise ratios (T2 eigenvalue / its noise scale, or the
    discovery passes' ``signal_to_noise``) against rank and the threshold; a stage that records no
    spectrum is listed with the number of directions it found."""
    stages = [s for s in stages if s.get("stage") == "subspace"]
    unplotted, longest = [], 1
    for i, s in enumerate(stages, start=1):
        if s.get("eigenvalues") is not None and s.get("noise"):
            ratios, what = np.abs(np.asarray(s["eigenvalues"], dtype=float)) / s["noise"], "T2 eigenvalues"
        else:
            ratios, what = np.asarray(s.get("signal_to_noise", []), dtype=float), "signal / noise"
        if len(ratios):
            ax.semilogy(np.arange(1, len(ratios) + 1), ratios, "o-", label=f"stage {i}: {what}")
            longest = max(longest, len(ratios))
        else:
            unplotted.append(f"{i}: {s.get('found', '?')}")
    if stages:
        ax.axhline(stages[0].get("threshold", 4), color="grey", ls=":", label="threshold")
        ax.legend(fontsize=8, loc="upper right")
    text = "no subspace stages recorded" if not stages else (
        "stages without a recorded spectrum, directions found:\n" + ", ".join(unplotted) if unplotted else "")
    if text:
        ax.text(0.03, 0.03, text, transform=ax.transAxes, fontsize=8, va="bottom", wrap=True)
    ax.set(title="significant directions found (report)", xlabel="rank", ylabel="|eigenvalue| / noise",
           xlim=(0.5, longest + 0.5), xticks=np.arange(1, longest + 1))


def save(fig, path) -> Path:
    """Write ``fig`` to ``path`` (PNG)."""
    path = Path(path)
    fig.savefig(path, dpi=110)
    return path


def curves_figure(rows: list[dict], x: str, y: str, ylabel: str, log: bool, title: str = ""):
    """One line per method (and family) of ``y`` against ``x`` from harness summary rows."""
    fig = _figure((7, 4.5))
    ax = fig.subplots()
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
    fig = _figure((7, 4.5))
    ax = fig.subplots()
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
