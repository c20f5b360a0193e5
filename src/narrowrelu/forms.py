"""Stage D: polish in R^d and choose the network's form (pure k-ReLU, or with a linear term).

Every method ends here: :func:`finish` refines the fit of stage C in the whole space and keeps
the pure form unless a linear term is worth its place (:func:`~narrowrelu.selection.linear_wins`);
:func:`linear_fallback` is the answer when no direction was found at all.
"""

from __future__ import annotations

import time

import numpy as np

from .network import ReLUNetwork
from .options import FitOptions
from .pipeline import Data, kept_rows
from .polish import augment, fit_directions, linear_as_pair, output_layer, resolve_signs, rows, to_network
from .report import Report
from .selection import Candidate, evaluate, keep_best, linear_wins

__all__ = ["finish", "linear_fallback", "collapsed"]


def collapsed(net: ReLUNetwork, options: FitOptions) -> ReLUNetwork:
    """``net`` with neurons closer than ``collapse_tol`` merged (unchanged when it is 0)."""
    return net.collapse(options.collapse_tol) if options.collapse_tol > 0 else net


def finish(
    data: Data, net: ReLUNetwork, V: np.ndarray, rng: np.random.Generator, options: FitOptions, report: Report
) -> Candidate:
    """Stage D: resolve signs, refine all directions in R^d; keep the pure network if it fits as well.

    The pure k-ReLU form (signs resolved, no linear term) is refined first. A linear term in
    span ``V`` is then offered to its directions (least squares only); when it buys more
    than ``LINEAR_GAIN`` of held-out loss, the pure form is refined again from the flips'
    remainder written as two neurons (:func:`~narrowrelu.polish.linear_as_pair`), and if the
    linear term still wins, the form with a linear term is refined and kept. With ``polish``
    off the directions stay as found and only the output layer is refitted. A network with
    biases is refined with them, on the augmented rows :math:`(x, 1)` (:func:`~narrowrelu.polish.augment`).
    """
    start = time.perf_counter()
    X, y = kept_rows(data, options.polish_rows, rng)
    iters = options.polish_iter if options.polish else 0
    lm = options.levenberg_marquardt
    variance = float(np.var(data.y_val))
    flipped, remainder = resolve_signs(net)
    XV = X @ V
    if net.biases is not None:
        X = augment(X)
    U, fit = fit_directions(X, y, rows(flipped), None, iters, lm)
    pure = evaluate(to_network(U, fit, None, data.d), data, "pure form")
    offered = evaluate(to_network(U, output_layer(X, y, U, XV), V, data.d), data, "linear term offered")
    if linear_wins(pure.loss, offered.loss, variance) and net.k >= 2 and remainder > 0:
        U, fit = fit_directions(X, y, rows(linear_as_pair(flipped)), None, iters, lm)
        pure = keep_best(pure, evaluate(to_network(U, fit, None, data.d), data, "pure form, linear term as a pair"))
    chosen, linear = pure, offered
    if linear_wins(pure.loss, offered.loss, variance):
        refit = to_network(*fit_directions(X, y, rows(net), XV, iters, lm), V, data.d)
        chosen = linear = keep_best(offered, evaluate(refit, data, "with a linear term"))
    if options.collapse_tol > 0:
        chosen = evaluate(collapsed(chosen.network, options), data, chosen.origin + ", collapsed")
    report.add("polish", time.perf_counter() - start, rows=len(y), linear_remainder=remainder,
               validation_mse_linear=linear.loss, validation_mse_pure=pure.loss,
               signs_resolved=chosen.network.linear is None)
    return chosen


def linear_fallback(data: Data) -> Candidate:
    """No significant direction: the least-squares linear model (no neurons; ``learn`` warns)."""
    fit = output_layer(data.X, data.y, np.zeros((0, data.d)), data.X)
    return evaluate(to_network(np.zeros((0, data.d)), fit, np.eye(data.d), data.d), data, "linear model")
