r"""Stage D: local refinement of the hidden directions, and the network's forms.

One refinement serves every method. For fixed directions :math:`U` (k, d) the output layer
is the least-squares fit of :mod:`narrowrelu.least_squares`. The
refinement minimises the *variable-projection* objective :math:`\phi(U)` = that minimum,
whose gradient (envelope theorem) is :math:`-\tfrac2n \sum_n e_n w_i 1[\langle u_i, x_n\rangle > 0] x_n`
for the optimal residual :math:`e`, with L-BFGS on a ladder of row subsets, coarsest first,
and Levenberg-Marquardt where L-BFGS stalls (nearly parallel neurons make the problem
ill-conditioned). Each :math:`u_i` is normalised inside the objective (the loss does not
depend on its length), and the gradient projected accordingly.

Hidden biases (docs/maths.md): :math:`\mathrm{relu}(\langle u, x\rangle + \beta) =
\mathrm{relu}(\langle (u, \beta), (x, 1)\rangle)`, so the same refinement on the augmented rows
:math:`(x, 1)` (:func:`augment`) refines :math:`(u_i, \beta_i) \in R^{d+1}` with the output layer
and the linear term still by least squares; :func:`rows` and :func:`to_network` translate.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.linalg
from scipy.optimize import minimize

from .least_squares import OutputLayer, features, output_layer, solve_normal_equations
from .moments import default_n_jobs
from .network import ReLUNetwork

__all__ = ["OutputLayer", "output_layer", "solve_normal_equations", "refine", "fit_directions", "to_network",
           "resolve_signs", "linear_as_pair", "augment", "rows"]

#: :func:`refine` first solves on every ``COARSE_STRIDE``-th row, and on every
#: ``COARSE_STRIDE``-th of those, ..., while such a subset keeps at least ``COARSE_ROWS``
#: rows and ``COARSE_ROWS_PER_PARAMETER`` per entry of the directions (ours).
COARSE_STRIDE, COARSE_ROWS, COARSE_ROWS_PER_PARAMETER = 4, 5_000, 10
#: ... and allows the coarsest subset this many times the iterations: they are cheap, and
#: on ill-conditioned networks (clusters) the finer levels then start at the optimum (ours).
COARSE_ITER_FACTOR = 4
#: At the coarsest level, when L-BFGS runs out of iterations (an ill-conditioned network: a
#: close pair, a cluster), up to ``LM_STEPS`` Levenberg-Marquardt steps follow, for at most
#: ``LM_MAX_PARAMETERS`` entries of the directions; its Gauss-Newton matrix is accumulated
#: over blocks of ``LM_BLOCK_ROWS`` rows (ours).
LM_STEPS, LM_MAX_PARAMETERS, LM_BLOCK_ROWS = 40, 2_000, 2_048
#: :func:`refine` sums its normal equations and gradients over blocks of about this many
#: entries of X (ours), in a fixed order, spread over threads: the result does not depend on
#: the number of cores, and smaller blocks would lose more to thread hand-offs than they gain.
BLOCK_ENTRIES = 1_000_000


class _Block:
    """One block of rows for :func:`refine`: its feature matrix is allocated once.

    ``F`` = [relu(XU^T), XV, 1] is stored by columns, so the ReLU columns are a contiguous
    (k, rows) array that one product fills; the linear and intercept columns never change.
    """

    def __init__(self, X: np.ndarray, y: np.ndarray, XV: np.ndarray | None, k: int, rows: slice):
        self.X, self.y, self.k = X[rows], y[rows], k
        width = k + (0 if XV is None else XV.shape[1]) + 1
        self.F = np.empty((len(self.y), width), order="F")
        if XV is not None:
            self.F[:, k:-1] = XV[rows]
        self.F[:, -1] = 1.0
        self.relu = self.F[:, :k].T  # (k, rows), C-contiguous view of F's first k columns
        self.active = None

    def normal_equations(self, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        np.matmul(V, self.X.T, out=self.relu)
        self.active = self.relu > 0.0
        np.maximum(self.relu, 0.0, out=self.relu)
        return self.F.T @ self.F, self.F.T @ self.y

    def gradient(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        r"""The block's squared error and :math:`\sum_n e_n w_i 1[\langle u_i, x_n\rangle > 0] x_n`."""
        e = self.y - self.F @ theta
        return float(e @ e), (self.active * (theta[: self.k, None] * e)) @ self.X


def refine(
    X: np.ndarray,
    y: np.ndarray,
    U: np.ndarray,
    XV: np.ndarray | None = None,
    *,
    max_iter: int = 200,
    tol: float = 1e-12,
    lm_steps: int = LM_STEPS,
) -> tuple[np.ndarray, OutputLayer]:
    r"""Refine directions ``U`` (k, d) by L-BFGS on the variable-projection objective.

    Coarse to fine: the directions are first refined on a ladder of evenly strided subsets
    of the rows (``COARSE_STRIDE``), coarsest first, each step costing a fraction of a full
    evaluation; every finer level then starts next to its optimum (on noiseless data, at
    it). Where L-BFGS does not converge on the coarsest level, up to ``lm_steps`` steps
    of :func:`_levenberg_marquardt` follow there (0 for a deliberately brief refinement).
    Returns the refined unit directions and their least-squares output layer.
    """
    if U.shape[0] == 0:
        return U, output_layer(X, y, U, XV)
    levels = [(X, y, XV)]
    while len(levels[-1][1]) // COARSE_STRIDE >= max(COARSE_ROWS, COARSE_ROWS_PER_PARAMETER * U.size):
        rows = slice(None, None, COARSE_STRIDE)
        Xl, yl, XVl = levels[-1]
        levels.append((np.ascontiguousarray(Xl[rows]), yl[rows],
                       None if XVl is None else np.ascontiguousarray(XVl[rows])))
    for level in reversed(range(len(levels))):
        coarsest = level == len(levels) - 1
        iterations = max_iter * (COARSE_ITER_FACTOR if coarsest and level else 1)
        U, converged = _minimize(*levels[level], U, iterations, tol)
        if coarsest and not converged and lm_steps and U.size <= LM_MAX_PARAMETERS:
            U = _levenberg_marquardt(*levels[level], U, lm_steps)
    return U, output_layer(X, y, U, XV)


def _minimize(X: np.ndarray, y: np.ndarray, XV: np.ndarray | None, U: np.ndarray, max_iter: int,
              tol: float) -> tuple[np.ndarray, bool]:
    """L-BFGS on the variable-projection objective over the rows of ``X``: unit directions, and
    whether it converged (``scipy``'s status 0; neither out of iterations nor a failed line search)."""
    shape, n = U.shape, len(y)
    # Fixed row blocks (not one per core), summed in order; spread over threads with one BLAS
    # thread each (docs/engineering.md): the two products per step are bandwidth-bound.
    step = max(1, BLOCK_ENTRIES // max(1, X.shape[1]))
    blocks = [_Block(X, y, XV, shape[0], slice(i, i + step)) for i in range(0, n, step)]
    jobs = max(1, min(default_n_jobs(), len(blocks)))
    def objective(flat, run):
        raw = flat.reshape(shape)
        norms = np.maximum(np.linalg.norm(raw, axis=1, keepdims=True), 1e-12)
        V = raw / norms  # the loss is scale-invariant per row; optimise on the sphere
        parts = run(_Block.normal_equations, blocks, [V] * len(blocks))
        theta = solve_normal_equations(sum(p[0] for p in parts), sum(p[1] for p in parts))
        sums = run(_Block.gradient, blocks, [theta] * len(blocks))
        grad = -2.0 / n * sum(g for _, g in sums)
        grad = (grad - np.sum(grad * V, axis=1, keepdims=True) * V) / norms
        return sum(sse for sse, _ in sums) / n, grad.ravel()

    start = U / np.linalg.norm(U, axis=1, keepdims=True)
    with ThreadPoolExecutor(jobs) as pool:
        run = (lambda f, *args: list(pool.map(f, *args))) if jobs > 1 else (lambda f, *args: list(map(f, *args)))
        result = minimize(objective, start.ravel(), args=(run,), jac=True, method="L-BFGS-B",
                          options={"maxiter": max_iter, "ftol": tol, "gtol": 1e-14, "maxcor": 30})
    U = result.x.reshape(shape)
    # status 0: converged; 1: out of iterations; 2: the line search failed (not converged either).
    return U / np.maximum(np.linalg.norm(U, axis=1, keepdims=True), 1e-300), result.status == 0


def _levenberg_marquardt(X: np.ndarray, y: np.ndarray, XV: np.ndarray | None, U: np.ndarray,
                         steps: int) -> np.ndarray:
    r"""Levenberg-Marquardt on the variable-projection objective, with Kaufman's Jacobian.

    With :math:`F = [\mathrm{relu}(XU^T), XV, 1]`, :math:`\theta` its least-squares weights
    and :math:`e = y - F\theta`, the Jacobian of :math:`e` in :math:`u_i` is
    :math:`-P_F^\perp G_i` with :math:`G_i = \theta_i\,\mathrm{diag}(1[Xu_i > 0])\,X`. A step
    solves :math:`(H + \lambda\,\mathrm{diag} H)\,\delta = G^T e`, :math:`H = G^T P_F^\perp G`,
    and is kept when it lowers the loss (then :math:`\lambda` shrinks, else it grows). Near
    an ill-conditioned optimum (nearly parallel neurons) this converges where L-BFGS crawls;
    one step costs about :math:`n (kd)^2` flops.
    """
    k, d = U.shape
    fit = output_layer(X, y, U, XV)
    damping = 1e-3
    for _ in range(steps):
        F = features(X @ U.T, XV)
        H, g, C = np.zeros((k * d, k * d)), np.zeros(k * d), np.zeros((F.shape[1], k * d))
        for start in range(0, len(y), LM_BLOCK_ROWS):
            rows = slice(start, start + LM_BLOCK_ROWS)
            G = (((F[rows, :k] > 0.0) * fit.weights)[:, :, None] * X[rows][:, None, :]).reshape(-1, k * d)
            H += G.T @ G
            g += G.T @ fit.residual[rows]
            C += F[rows].T @ G
        R = np.linalg.qr(F, mode="r")
        W = np.linalg.lstsq(R.T, C, rcond=None)[0]  # Q^T G, with F = QR
        H -= W.T @ W
        scale = np.maximum(np.diag(H), 1e-12 * max(float(np.max(np.diag(H))), 1e-300))  # dead neurons too
        # The loss does not change along u_i (its length): fill that null direction of H. As
        # G^T e is orthogonal to every u_i, the step is unchanged.
        H += scipy.linalg.block_diag(*(np.outer(u, u) for u in U)) * float(np.mean(scale))
        while damping < 1e10:
            delta = scipy.linalg.solve(H + damping * np.diag(scale), g, assume_a="sym")
            trial = U + delta.reshape(k, d)
            trial /= np.maximum(np.linalg.norm(trial, axis=1, keepdims=True), 1e-300)
            trial_fit = output_layer(X, y, trial, XV)
            if trial_fit.mse < fit.mse:
                break
            damping *= 4.0
        else:
            return U
        gain = fit.mse - trial_fit.mse
        U, fit, damping = trial, trial_fit, max(damping / 3.0, 1e-12)
        if gain <= 1e-10 * fit.mse:
            break
    return U


def augment(X: np.ndarray) -> np.ndarray:
    """The augmented rows :math:`(x, 1)` (n, d + 1): a neuron's bias is its last coordinate."""
    return np.hstack([X, np.ones((X.shape[0], 1))])


def rows(net: ReLUNetwork) -> np.ndarray:
    r"""The neurons as rows to refine: the directions (k, d), or :math:`(u_i, \beta_i)` (k, d + 1) with biases."""
    return net.directions if net.biases is None else np.hstack([net.directions, net.biases[:, None]])


def to_network(U: np.ndarray, fit: OutputLayer, V: np.ndarray | None, d: int) -> ReLUNetwork:
    r"""Build the network from directions ``U`` (k, d) and an output layer (linear term ``V a``).

    Rows of length d + 1 are :math:`(u_i, \beta_i)` on the augmented input: the network has
    biases. A row whose :math:`u_i` vanishes is the constant :math:`w_i\,\mathrm{relu}(\beta_i)`,
    folded into the intercept.
    """
    keep = fit.weights != 0.0
    linear = None if fit.linear is None else V @ fit.linear
    if U.shape[0] == 0:
        return ReLUNetwork(np.zeros(0), np.zeros((0, d)), linear, fit.intercept)
    if U.shape[1] == d:
        return ReLUNetwork(fit.weights[keep], U[keep], linear, fit.intercept)
    constant = np.linalg.norm(U[:, :d], axis=1) <= 1e-12 * np.abs(U[:, d])
    intercept = fit.intercept + float(fit.weights[keep & constant] @ np.maximum(U[keep & constant, d], 0.0))
    keep &= ~constant
    return ReLUNetwork(fit.weights[keep], U[keep, :d], linear, intercept, biases=U[keep, d])


def resolve_signs(net: ReLUNetwork) -> tuple[ReLUNetwork, float]:
    r"""Absorb the linear term by flipping neurons: :math:`w\,\mathrm{relu}(t) = w\,\mathrm{relu}(-t) + w t`.

    With biases a flip is :math:`(u_i, \beta_i) \to (-u_i, -\beta_i)` and the constant
    :math:`w_i\beta_i` joins the intercept. Chooses flips :math:`F` minimising
    :math:`\|c + \sum_{i \in F} w_i u_i\|` (exhaustively for k <= 16, greedily beyond) and returns the
    flipped network, still carrying the remaining linear term, and the norm of that remainder.
    """
    c = np.zeros(net.d) if net.linear is None else net.linear
    k = net.k
    if k == 0:
        return net, float(np.linalg.norm(c))
    contrib = net.weights[:, None] * net.directions  # flipping i adds w_i u_i to the linear term
    if k <= 16:
        # |c + m C|^2 = |c|^2 + 2 m.(Cc) + m (CC^T) m: 2^k x k^2 work, nothing of size 2^k x d.
        masks = ((np.arange(2**k)[:, None] >> np.arange(k)) & 1).astype(float)
        gram = contrib @ contrib.T
        squares = c @ c + 2 * masks @ (contrib @ c) + np.einsum("mi,mi->m", masks @ gram, masks)
        flips = masks[int(np.argmin(squares))].astype(bool)
    else:
        flips = np.zeros(k, dtype=bool)
        for i in np.argsort(-np.abs(net.weights)):
            trial = flips.copy()
            trial[i] = True
            if np.linalg.norm(c + trial @ contrib) < np.linalg.norm(c + flips @ contrib):
                flips = trial
    remainder = c + flips.astype(float) @ contrib
    directions = np.where(flips[:, None], -net.directions, net.directions)
    if net.biases is None:
        return ReLUNetwork(net.weights, directions, remainder, net.intercept), float(np.linalg.norm(remainder))
    # With biases: w relu(t + beta) = w relu(-t - beta) + w t + w beta, the constant to the intercept.
    intercept = net.intercept + float(net.weights[flips] @ net.biases[flips])
    biases = np.where(flips, -net.biases, net.biases)
    return ReLUNetwork(net.weights, directions, remainder, intercept, biases=biases), float(np.linalg.norm(remainder))


def linear_as_pair(net: ReLUNetwork) -> ReLUNetwork:
    r"""Absorb the linear term :math:`\langle c, x\rangle` into two neurons, no linear term left.

    .. math:: \langle c, x\rangle = |c|\,(\mathrm{relu}(\langle \hat c, x\rangle)
              - \mathrm{relu}(-\langle \hat c, x\rangle))

    replaces the two neurons of smallest :math:`|\lambda_i|`. A fit with a free linear term can
    spend two neurons on nothing and write :math:`|t| = 2\,\mathrm{relu}(t) - t` instead of
    :math:`\mathrm{relu}(t) + \mathrm{relu}(-t)`; no flip removes that linear term, this does.
    Needs ``net.k >= 2`` and a non-zero linear term.
    """
    c = net.linear
    keep = np.sort(np.argsort(np.abs(net.weights))[2:])
    norm = float(np.linalg.norm(c))
    biases = None if net.biases is None else np.concatenate([net.biases[keep], [0.0, 0.0]])
    return ReLUNetwork(np.concatenate([net.weights[keep], [norm, -norm]]),
                       np.vstack([net.directions[keep], c / norm, -c / norm]), None, net.intercept, biases=biases)


def fit_directions(X: np.ndarray, y: np.ndarray, U: np.ndarray, XV: np.ndarray | None, iters: int,
                   levenberg_marquardt: bool = True) -> tuple[np.ndarray, OutputLayer]:
    """:func:`refine` for ``iters`` iterations (with or without Levenberg-Marquardt); with ``iters = 0``
    the directions stay and only the output layer is fitted."""
    if not iters:
        return U, output_layer(X, y, U, XV)
    return refine(X, y, U, XV, max_iter=iters, lm_steps=LM_STEPS if levenberg_marquardt else 0)
