r"""Exact identification of a one-hidden-layer ReLU network from queries.

.. math:: f(x) = \sum_i \lambda_i\,\mathrm{relu}(\langle u_i, x\rangle + b_i) + \langle c, x\rangle + b_0

is piecewise linear. Along a line :math:`x(t) = p + t v` it has a kink where a unit switches,
at :math:`t_i = -(\langle u_i, p\rangle + b_i)/\langle u_i, v\rangle`, and there the gradient of
:math:`f` jumps by :math:`\pm\lambda_i u_i` (Chen, Klivans and Meka 2021; Carlini, Jagielski and
Mironov 2020). Pseudo-code of :func:`identify` (docs/algorithms.md):

.. code-block:: text

    lines p + t v, t in [-R, R]: p ~ N(0, I), v uniform on the sphere, R = REACH (sqrt d + 1)
    for each batch of lines (all lines of a batch queried together):
        kinks  <- secant search: on [a, b] with end values and end slopes, the two end lines
                  meet at t*; one kink there iff f(t*) lies on them (float32: and f is linear
                  on each side, midpoints on the chords), none iff f(t*) lies on a's line and
                  on the chord a-b, else split at t*
        refine each kink from two short lines on its sides: location, slope jump
        match each kink to a known hyperplane (<n, x> + beta = 0, slope jump mu |<n, v>|);
        unmatched kinks: gradient jump J by central differences on both sides -> new unit
                  n = J / |J|, beta = -<n, x*>, mu = sign(<J, v>) |J|
        every known unit's hyperplane that crosses the line must have its kink there
    probe lines along each unit's normal, through N(0, I) points projected on its plane: d + 2 kink points
    refine each unit: the hyperplane through its kink points (TLS)
    float32: polish every hyperplane by least squares of the whole network in its activation pattern;
             drop units within FLOOR_ROUNDINGS roundings of 0 at every query of the probed region
    weights: least squares of f on [relu(X n^T + beta), X, 1] at queries of the probed region
    signs: relu(z) = z + relu(-z), so orientations only move mass into the linear term
           c' = -sum_{flipped} mu_i n_i; with c = 0 the flipped set F solves
           sum_{i in F} mu_i n_i = -c' (least squares when k <= d, else a lattice: LLL)
    check the network on fresh queries of the probed region: residual <= tol, or an error
    float32: residual <= HUNT_ROUNDINGS x the oracle's rounding, else (a unit is missing) hunt, at
             most HUNT_ROUNDS times: on random lines, the segments between the known units' predicted
             kinks fitted by one line and by two; a drop far above the rounding is a missed kink;
             kinks with parallel gradient jumps make a unit; polish and check again
             still above FLOOR_ROUNDINGS x the rounding: an error (with an explicit tol a warning);
             above HUNT_ROUNDINGS x: a warning

float32 oracles (eps = 1.2e-7) get shorter lines (REACH_LOW: rounding grows with the largest value
on a line), wider slope windows (SLOPE_WINDOW_LOW), more sightings and the polish: there a unit
whose slope jump is within a few hundred ulps of the function's scale can stay unseen by the
search; the hunt's least-squares fits over HUNT_POINTS values per segment see slope jumps down
to about 1/3000 of the others' (measured). A unit still missed fails the residual check, which
refuses: above ``tol``, and (without an explicit ``tol``) above
FLOOR_ROUNDINGS times the oracle's rounding at the check points, eps times the largest sum of
the terms' sizes there (docs/evaluation.md). Correct float32 networks sit at 0.16-0.73 times that
rounding; a network one unit short at 89 to 14,000 times it (measured). Float32 torch modules and
ONNX files are queried through float64 copies by default (:mod:`narrowrelu.oracles`).

Signs are resolved in polynomial time (no search over :math:`2^k` patterns); when no flipped
set explains the linear part (a genuine linear term, or units always active on the probed
lines), the linear term is kept and a :class:`~narrowrelu.exceptions.FitWarning` says so.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
from threadpoolctl import threadpool_limits

from ._validation import RandomState, as_generator, check_positive_int
from .exceptions import FitWarning
from .network import ReLUNetwork
from .oracles import as_oracle
from .report import Report

__all__ = ["identify", "IdentifyReport"]

#: Lines reach ``REACH * (sqrt(d) + 1)`` either side of their Gaussian point; ``REACH_LOW`` for float32
#: oracles, whose rounding grows with the largest value on the line (ours).
REACH, REACH_LOW = 4.0, 2.0
#: The slopes at a split point of the secant search are measured over 1/SLOPE_WINDOW of the shorter side
#: (SLOPE_WINDOW_LOW for float32 oracles: a slope's rounding error is 2 atol / window) (ours).
SLOPE_WINDOW, SLOPE_WINDOW_LOW = 64, 8
#: Lines searched together (one batch of queries per search round) (ours).
LINES_PER_BATCH = 4
#: At least this many lines are searched (ours).
MIN_LINES = 8
#: The search stops when no line adds a unit and each unit is seen at this many kinks (d + 2 for float32
#: oracles); then probe lines add points of each unit's hyperplane up to d + 2 (4 (d + 2) for float32) (ours).
MIN_SIGHTINGS = 3
#: Intervals of a line's initial grid (ours).
GRID = 4
#: Values agree when within this many ulps of the function's scale (ours).
NOISE_ULPS = 16.0
#: Units whose hyperplane is farther than this from the origin are dead or always active for
#: N(0, I) inputs (ours).
GAUSSIAN_SIGMAS = 4.0
#: A line with more pending intervals than this is not piecewise linear with few pieces (ours).
MAX_INTERVALS_PER_LINE = 8192
#: Probe lines queried together (memory O(PROBES_PER_BATCH d)) (ours).
PROBES_PER_BATCH = 4096
#: Default query budget (ours).
MAX_QUERIES = 2**25
#: The polish (float32 oracles) runs at most POLISH_ROUNDS rounds of POLISH_ROWS fresh queries per unknown,
#: and only up to POLISH_MAX_UNKNOWNS unknowns (memory POLISH_ROWS POLISH_MAX_UNKNOWNS^2 floats) (ours).
POLISH_ROUNDS, POLISH_ROWS, POLISH_MAX_UNKNOWNS = 8, 32, 1000
#: The hunt for units the search missed (float32 oracles whose check fails): rounds, lines per round, points per
#: segment between the known units' predicted kinks, shortest segment, and the least drop of a segment's squared
#: residuals (in units of its rounding's variance) from one line to two that counts as a kink (ours).
HUNT_ROUNDS, HUNT_LINES, HUNT_POINTS, HUNT_MIN_LENGTH, HUNT_SIGNIFICANCE = 3, 16, 32, 0.05, 100.0
#: A polished (float32) network whose residual exceeds this many times the oracle's rounding is refused, or
#: warned about when the caller gave ``tol`` (ours).
FLOOR_ROUNDINGS = 64.0
#: Above this many times the oracle's rounding (complete float32 networks measured at 0.16-0.73 times it) a
#: polished network is hunted for missed units, and accepted with a warning if none is found (ours).
HUNT_ROUNDINGS = 2.0


class _Units:
    """Units found so far: unit normals ``n``, offsets ``beta``, weights ``mu``, the relative error of each
    hyperplane, how often its kink was predicted on a line and how often absent there, and its kink points."""

    def __init__(self, d: int):
        self.n, self.beta, self.mu = np.zeros((0, d)), np.zeros(0), np.zeros(0)
        self.error, self.absent, self.expected, self.points = np.zeros(0), np.zeros(0, int), np.zeros(0, int), []

    def add(self, n, beta, mu, error, x):
        self.n, self.beta = np.vstack([self.n, n]), np.concatenate([self.beta, beta])
        self.mu, self.error = np.concatenate([self.mu, mu]), np.concatenate([self.error, error])
        self.absent = np.concatenate([self.absent, np.zeros(len(mu), int)])
        self.expected = np.concatenate([self.expected, np.zeros(len(mu), int)])
        self.points += [[row] for row in x]

    def keep(self, rows: np.ndarray) -> None:
        self.n, self.beta, self.mu, self.error, self.absent, self.expected = (
            a[rows] for a in (self.n, self.beta, self.mu, self.error, self.absent, self.expected))
        self.points = [self.points[i] for i in np.flatnonzero(rows)]

    def sightings(self) -> np.ndarray:
        return np.array([len(p) for p in self.points], dtype=int)


class IdentifyReport(Report):
    """The :class:`~narrowrelu.report.Report` of :func:`identify` (stage ``identify`` holds the figures)."""

    def __str__(self) -> str:
        s = next((r for r in self.stages if r["stage"] == "identify"), {})
        lines = [f"narrowrelu identify: {s.get('units', self.k)} units, d={self.d}, {s.get('queries', 0)} queries, "
                 f"{s.get('lines', 0)} lines, {s.get('seconds', 0.0):.2f} s",
                 f"  prediction error {s.get('prediction_error', float('nan')):.3g} (relative, held-out queries), "
                 f"hyperplane residual {s.get('hyperplane_residual', float('nan')):.3g}, "
                 f"oracle queried in {s.get('dtype', '?')} (model {s.get('model_dtype', s.get('dtype', '?'))})",
                 f"  signs {s.get('signs', '?')}"
                 f"; dead for N(0, I) inputs: {s.get('dead', [])}; always active: {s.get('always_active', [])}"]
        notes = [f"  note: {s['oracle_note']}"] if s.get("oracle_note") else []
        return "\n".join(lines + notes + [f"  warning: {w}" for w in self.warnings])


def identify(f, d: int | None = None, *, random_state: RandomState = None, max_queries: int | None = None,
             tol: float | None = None, precision: str = "float64") -> ReLUNetwork:
    r"""Identify :math:`f(x) = \sum_i \lambda_i \mathrm{relu}(\langle u_i, x\rangle + b_i) + \langle c, x\rangle + b_0`.

    Parameters
    ----------
    f : callable, torch.nn.Module, ONNX path or ``"module:function"``
        The model, queried in batches (see :func:`narrowrelu.oracles.as_oracle`).
    d : int or None
        Input dimension (None: from the model).
    random_state : int, Generator, RandomState instance or None, default=None
        Seeds the lines and the check queries.
    max_queries : int or None
        Query budget (default ``MAX_QUERIES``); reaching it stops the search with a warning.
    tol : float or None
        Largest accepted relative residual on held-out queries. Default (None): the square
        root of the oracle's machine epsilon (1.5e-8 for float64, 3.5e-4 for float32), and for
        a float32 oracle also ``FLOOR_ROUNDINGS`` (64) times the oracle's own rounding at the
        check points (``oracle_rounding`` in the report): above it a unit is missing, and the
        network is refused. An explicit ``tol`` is the only bound (the rounding check then
        only warns).
    precision : {"float64", "model"}, default="float64"
        How a torch module is queried: ``"float64"`` through a float64 copy of it (the same
        function as its float32 weights define, with float64 rounding: exact to ~1e-12; the
        module itself is not modified), ``"model"`` in its own dtype; likewise a float32 ONNX
        file of MatMul/Add/Relu-type operators (a float64 copy in memory). Numpy callables are
        queried in their own dtype. The report's ``dtype`` is the dtype queried,
        ``model_dtype`` the model's, and ``oracle_note`` says why a float64 copy was not used.

    Returns
    -------
    ReLUNetwork
        With hidden biases; ``linear`` only when the signs could not be resolved. Its
        ``report`` (:class:`IdentifyReport`) gives the queries, units, lines, precision,
        seconds, and the units dead or always active for N(0, I) inputs.

    Raises
    ------
    ValueError
        When ``f`` is not a one-hidden-layer ReLU network at the oracle's precision: not
        deterministic, not piecewise linear along a line, kinks off every consistent
        hyperplane, or a residual above ``tol``; for a float32 oracle without an explicit
        ``tol``, a residual far above the oracle's rounding (a unit too small to be seen).

    Examples
    --------
    >>> import numpy as np
    >>> truth = ReLUNetwork([1.0, -2.0, 0.5], [[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], biases=[0.1, -0.3, 0.2])
    >>> net = identify(truth.predict, d=2, random_state=0)
    >>> net.k, bool(np.allclose(np.sort(net.weights), [-2.0, 0.5, 1.0]))
    (3, True)
    """
    start = time.perf_counter()
    oracle = as_oracle(f, d, precision=precision)
    d, rng = oracle.d, as_generator(random_state)
    budget = MAX_QUERIES if max_queries is None else check_positive_int(max_queries, "max_queries")
    eps = float(np.finfo(oracle.dtype).eps)
    explicit = tol is not None
    tol = float(np.sqrt(eps)) if tol is None else float(tol)
    if not np.isfinite(tol) or tol <= 0:
        raise ValueError(f"tol must be a positive relative residual, got {tol}")
    if eps > 1e-12 and not explicit and 2 * (d + 1) > POLISH_MAX_UNKNOWNS:  # even one unit is too many
        raise ValueError(_too_many_unknowns(oracle, 2 * (d + 1), f"d={d} and one unit or more") + ", or pass tol= "
                         "to accept an unpolished network")
    with threadpool_limits(1, user_api="blas"):
        search = _Search(oracle, d, rng, eps, budget)
        search.explore()
        net, stage = _assemble_hunting(search, rng, tol, explicit)
    stage |= {"queries": oracle.queries, "lines": search.lines, "kinks": search.kinks, "hunted_units": search.hunted,
              "dtype": str(oracle.dtype), "model_dtype": str(oracle.model_dtype), "oracle_note": oracle.note,
              "seconds": round(time.perf_counter() - start, 4)}
    report = IdentifyReport(method="identify", n_samples=oracle.queries, n_train=0, n_validation=stage["checks"],
                            d=d, k=net.k, options={"tol": tol, "max_queries": budget, "oracle": oracle.name,
                                     "precision": precision},
                            warnings=search.warnings + stage.pop("warnings"))
    report.add("identify", stage.pop("seconds"), **stage)
    for message in report.warnings:
        warnings.warn(message, FitWarning, stacklevel=2)
    net.report = report
    return net


class _Search:
    """The kink search along random lines, and the units it finds."""

    def __init__(self, oracle, d: int, rng, eps: float, budget: int):
        self.f, self.d, self.rng, self.eps, self.budget = oracle, d, rng, eps, budget
        self.low = eps > 1e-12  # float32: values good to ~1e-7 of the scale only
        self.R = (REACH_LOW if self.low else REACH) * (np.sqrt(d) + 1.0)
        self.units = _Units(d)
        self.lines = self.kinks = self.missing = self.predicted = self.dropped = self.hunts = self.hunted = 0
        self.warnings: list[str] = []
        X = rng.standard_normal((8, d))
        first, again = oracle(X), oracle(X)
        if not np.array_equal(first, again):
            raise ValueError(f"{oracle.name} is not deterministic: the same queries answered differently "
                             f"(by up to {np.max(np.abs(first - again)):.3g}); identification needs a noiseless "
                             "model (learn from samples instead: narrowrelu.learn)")
        self.scale = float(np.max(np.abs(first))) + 1.0
        self.atol = NOISE_ULPS * eps * self.scale

    def points(self, m: int) -> np.ndarray:
        """m points of the probed region: p + t v, p ~ N(0, I), v uniform on the sphere, t uniform in [-R, R]."""
        V = self.rng.standard_normal((m, self.d))
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        return self.rng.standard_normal((m, self.d)) + self.rng.uniform(-self.R, self.R, (m, 1)) * V

    def g(self, P, V, T) -> np.ndarray:
        """f at the points P + T V (rows)."""
        return self.f(P + T[:, None] * V)

    # -- the search -------------------------------------------------------------------------

    def explore(self) -> None:
        """The search, then the sightings of every unit (float32 oracles: more of both, fewer units missed)."""
        self.run(self.d + 2 if self.low else MIN_SIGHTINGS)
        self.complete(4 * (self.d + 2) if self.low else self.d + 2)

    def run(self, sightings: int) -> None:
        while self.f.queries < self.budget:
            P = self.rng.standard_normal((LINES_PER_BATCH, self.d))
            V = self.rng.standard_normal((LINES_PER_BATCH, self.d))
            V /= np.linalg.norm(V, axis=1, keepdims=True)
            found = self._kinks(P, V)
            before = len(self.units.mu)
            for line in range(LINES_PER_BATCH):
                self._line(P[line], V[line], *found[line])
            self.lines += LINES_PER_BATCH
            self._prune()
            self.hyperplanes(final=False)
            seen = self.units.sightings()
            if self.lines >= MIN_LINES and len(self.units.mu) == before and (seen.size == 0 or seen.min() >= sightings):
                return
            if self.lines >= MIN_LINES and len(self.units.mu) == before and self.lines >= 32 * MIN_LINES:
                return  # units seen rarely (hyperplanes far out): stop after enough lines
        self.warnings.append(f"the query budget ({self.budget}) ran out after {self.lines} lines; units seen "
                             "fewer times than asked may be less precise, and units not seen are missing")

    def _prune(self) -> None:
        """Drop units absent where their hyperplane predicts a kink on at least two lines and a fifth of the
        times predicted or seen (several close kinks taken for one); refuse when half the predicted kinks are
        absent."""
        U = self.units
        if self.lines >= MIN_LINES and self.missing > 0.5 * self.predicted:
            raise ValueError(f"{self.f.name}: the kinks do not lie on consistent hyperplanes ({self.missing} of "
                             f"{self.predicted} kinks predicted by earlier lines' hyperplanes are absent): not a "
                             "one-hidden-layer ReLU network (deeper, or another activation)")
        times = np.maximum(U.sightings(), U.expected)
        drop = (U.absent >= 2) & (U.absent > 0.2 * times) | (U.absent > 0) & (U.sightings() == 1)
        self.dropped += int(drop.sum())
        U.keep(~drop)

    def _kinks(self, P, V):
        """Kinks of the lines (rows of P, V): per line (t, slope jump, left-gap, right-gap) arrays."""
        R, m = self.R, len(P)
        grid = np.linspace(-R, R, GRID + 1)
        eta = (grid[1] - grid[0]) / 16
        line = np.repeat(np.arange(m), GRID + 1)
        T = np.tile(grid, m)
        g0 = self.g(P[line], V[line], T)
        gp = self.g(P[line], V[line], T + eta)
        gm = self.g(P[line], V[line], T - eta)
        right, left = (gp - g0) / eta, (g0 - gm) / eta
        self.scale = max(self.scale, float(np.max(np.abs(g0))) + 1.0)
        self.atol = NOISE_ULPS * self.eps * self.scale
        ends = (np.arange(len(T)) % (GRID + 1)) != GRID
        i = np.flatnonzero(ends)
        # pending intervals: line, a, b, g(a), g(b), right slope at a, left slope at b, their errors
        Q = [line[i], T[i], T[i + 1], g0[i], g0[i + 1], right[i], left[i + 1],
             np.full(i.size, 2 * self.atol / eta), np.full(i.size, 2 * self.atol / eta)]
        kinks = [[] for _ in range(m)]
        while Q[0].size:
            if np.bincount(Q[0], minlength=m).max() > MAX_INTERVALS_PER_LINE:
                raise ValueError(f"{self.f.name} is not piecewise linear along a random line (more than "
                                 f"{MAX_INTERVALS_PER_LINE} pieces at the oracle's precision): not a ReLU network, "
                                 "or another activation (tanh, softplus, GELU)")
            Q = self._round(P, V, Q, kinks)
        return [self._refine(P[j], V[j], np.sort(np.array(kinks[j]))) for j in range(m)]

    def _round(self, P, V, Q, kinks):
        """One round of the secant search on every pending interval."""
        li, a, b, ga, gb, sa, sb, ea, eb = Q
        length = b - a
        if np.any(length < 1e-10 * self.R):
            j = int(np.argmin(length))
            raise ValueError(f"{self.f.name} is not piecewise linear along a random line: near t={a[j]:.6g} "
                             "no single kink explains the values at the oracle's precision (another activation, "
                             "or a network that is not ReLU)")
        denom = sa - sb
        with np.errstate(divide="ignore", invalid="ignore"):
            t = a + (gb - ga - sb * length) / denom
        flat = np.abs(denom) <= ea + eb
        inside = np.isfinite(t) & (t > a + 1e-3 * length) & (t < b - 1e-3 * length) & ~flat
        t = np.where(inside, t, 0.5 * (a + b))
        eta = np.minimum(t - a, b - t) / (SLOPE_WINDOW_LOW if self.low else SLOPE_WINDOW)
        gl, gt, gr = self.g(P[np.tile(li, 3)], V[np.tile(li, 3)], np.concatenate([t - eta, t, t + eta])).reshape(3, -1)
        line_a, line_b = lambda s: ga + sa * (s - a), lambda s: gb + sb * (s - b)  # noqa: E731
        allowed = 2 * self.atol + ea * (t - a) + eb * (b - t)
        on_a = np.abs(gt - line_a(t)) <= allowed
        # one kink at t: the values just left of t on a's line, just right of it on b's line
        kink = inside & on_a & (np.abs(gt - line_b(t)) <= allowed) & (np.abs(gl - line_a(t - eta)) <= allowed) \
            & (np.abs(gr - line_b(t + eta)) <= allowed)
        # no kink: on a's line, and on the chord from a to b (exact to the values' noise, whatever the slopes' error)
        chord = lambda s: ga + (gb - ga) * (s - a) / length  # noqa: E731
        empty = flat & on_a & (np.abs(gl - line_a(t - eta)) <= allowed) & (np.abs(gr - line_a(t + eta)) <= allowed) \
            & (np.abs(gb - line_a(b)) <= allowed) & (np.abs(gt - chord(t)) <= 2 * self.atol) \
            & (np.abs(gl - chord(t - eta)) <= 2 * self.atol) & (np.abs(gr - chord(t + eta)) <= 2 * self.atol)
        if self.low:  # float32: the end slopes' error can hide a small kink next to a large one
            kink[kink] = self._linear_sides(P, V, *(q[kink] for q in (li, a, b, ga, gb, t, gl, gr, eta)))
        for j in np.flatnonzero(kink):
            kinks[li[j]].append(t[j])
        split = ~(empty | kink)
        li, a, b, ga, gb, sa, sb, ea, eb, t, gt, gl, gr, eta = (
            q[split] for q in (li, a, b, ga, gb, sa, sb, ea, eb, t, gt, gl, gr, eta))
        e = 2 * self.atol / eta
        # an end slope measured over more than a quarter of the new interval is measured again
        sa, ea = self._slope(P, V, li, a, ga, sa, ea, (t - a) / 16)
        sb, eb = self._slope(P, V, li, b, gb, sb, eb, (t - b) / 16)
        return [np.concatenate(pair) for pair in ((li, li), (a, t), (t, b), (ga, gt), (gt, gb), (sa, (gr - gt) / eta),
                                                  ((gt - gl) / eta, sb), (ea, e), (e, eb))]

    def _linear_sides(self, P, V, li, a, b, ga, gb, t, gl, gr, eta) -> np.ndarray:
        """Whether f is linear on both sides of the kink at t: the midpoints of [a, t - eta] and [t + eta, b] on
        the chords, to the values' noise."""
        m1, m2 = (a + t - eta) / 2, (t + eta + b) / 2
        g1, g2 = self.g(P[np.tile(li, 2)], V[np.tile(li, 2)], np.concatenate([m1, m2])).reshape(2, -1)
        return (np.abs(g1 - (ga + gl) / 2) <= 2 * self.atol) & (np.abs(g2 - (gr + gb) / 2) <= 2 * self.atol)

    def _slope(self, P, V, li, t, gt, s, e, eta):
        """The slope at t measured again over ``eta`` (signed: the side) where its window exceeds 4 |eta|."""
        again = 2 * self.atol / e > 4 * np.abs(eta)
        if again.any():
            s, e = s.copy(), e.copy()
            step = eta[again]
            s[again] = (self.g(P[li[again]], V[li[again]], t[again] + step) - gt[again]) / step
            e[again] = 2 * self.atol / np.abs(step)
        return s, e

    def _refine(self, p, v, t):
        """Each kink from two short lines on its sides: location, slope jump, and the gaps to its neighbours."""
        if t.size == 0:
            return t, t, t
        bounds = np.concatenate([[-self.R], t, [self.R]])
        gap = np.minimum(np.diff(bounds)[:-1], np.diff(bounds)[1:])
        rho = gap / 10
        offsets = np.array([-4.0, -3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 4.0])
        T = (t[:, None] + offsets * rho[:, None]).ravel()
        G = self.g(np.broadcast_to(p, (T.size, self.d)), np.broadcast_to(v, (T.size, self.d)), T).reshape(-1, 8)
        # least-squares lines through the four values on each side, in units of rho from the kink
        s = offsets[4:] - offsets[4:].mean()
        left, right = (G[:, :4] @ s) / (s @ s) / rho, (G[:, 4:] @ s) / (s @ s) / rho
        left_mid, right_mid = G[:, :4].mean(axis=1), G[:, 4:].mean(axis=1)  # at -2.5 rho and +2.5 rho
        jump = right - left
        with np.errstate(divide="ignore", invalid="ignore"):
            refined = t - 2.5 * rho + (right_mid - left_mid - right * 5 * rho) / (left - right)
        real = (np.abs(jump) > 8 * self.atol / rho) & (np.abs(refined - t) < rho)
        return refined[real], jump[real], gap[real]

    def _line(self, p, v, t, jump, gap) -> None:
        """Match a line's kinks to known units, look for the known units' kinks not found, new units for the rest."""
        self.kinks += t.size
        X = p + t[:, None] * v
        U = self.units
        matched = np.full(t.size, -1)
        if U.mu.size and t.size:
            residual = np.abs(X @ U.n.T + U.beta)  # (kinks, units)
            allowed = U.error * (1.0 + np.linalg.norm(X, axis=1)[:, None]) * 100 + 1e-9 * self.R
            agree = np.abs(jump[:, None] - U.mu * np.abs(U.n @ v)) <= 0.02 * np.abs(jump[:, None]) + 100 * U.error
            score = np.where((residual <= allowed) & agree, residual / allowed, np.inf)
            best = np.argmin(score, axis=1)
            matched = np.where(np.isfinite(score[np.arange(t.size), best]), best, -1)
        hidden = self._hidden(p, v, t, matched) if U.mu.size else np.zeros(0)
        for i in np.flatnonzero(matched >= 0):
            U.points[matched[i]].append(X[i])
        # a kink standing for several close ones (their end lines meet outside them) is no unit
        new = np.flatnonzero((matched < 0) & ~np.any(np.abs(t[:, None] - hidden[None, :]) < gap[:, None] / 2, axis=1))
        if new.size:
            self._new_units(p, v, t[new], gap[new], X[new])

    def _hidden(self, p, v, t, matched) -> np.ndarray:
        """Known units whose hyperplane crosses the line inside its reach without a matched kink: probed where
        predicted (two short lines on each side); found ones become sightings, others count as absent."""
        U = self.units
        with np.errstate(divide="ignore", invalid="ignore"):
            where = -(U.n @ p + U.beta) / (U.n @ v)
        expected = np.flatnonzero((np.abs(where) < 0.95 * self.R) & (np.abs(U.n @ v) > 1e-3))
        absent = np.setdiff1d(expected, matched)
        U.expected[expected] += 1
        self.predicted += expected.size
        if absent.size == 0:
            return np.zeros(0)
        tp = where[absent]
        others = np.concatenate([t, tp])
        near = np.abs(tp[:, None] - others[None, :])
        near[near == 0] = np.inf
        m = absent.size
        found, tp = self._probe(np.broadcast_to(p, (m, self.d)), np.broadcast_to(v, (m, self.d)), absent, tp,
                                near.min(axis=1) / 8)
        for i, j in zip(absent[found], tp[found], strict=True):
            U.points[i].append(p + j * v)
        U.absent[absent[~found]] += 1
        self.missing += int((~found).sum())
        return tp[found]

    def _probe(self, P, V, units, tp, limit):
        """Look for the kink of each unit ``units[j]`` on the line ``P[j] + t V[j]`` near its predicted ``tp[j]``
        (two short lines on each side, at most ``limit`` away); whether found, and where."""
        U = self.units
        spread = 10 * U.error[units] * (1.0 + np.linalg.norm(P + tp[:, None] * V, axis=1))
        slope = np.abs(np.einsum("ij,ij->i", U.n[units], V))
        rho = np.minimum(limit, np.maximum(1e-3 * (1.0 + np.abs(tp)), spread / slope))  # the prediction's error
        offsets = np.array([-2.0, -1.0, 1.0, 2.0])
        T = tp[:, None] + offsets * rho[:, None]
        G = self.g(np.repeat(P, 4, axis=0), np.repeat(V, 4, axis=0), T.ravel()).reshape(-1, 4)
        left, right = (G[:, 1] - G[:, 0]) / rho, (G[:, 3] - G[:, 2]) / rho
        with np.errstate(divide="ignore", invalid="ignore"):
            where = tp - rho + (G[:, 2] - G[:, 1] - right * 2 * rho) / (left - right)  # where the two lines meet
        expected = U.mu[units] * slope
        found = (np.abs(right - left - expected) <= 100 * U.error[units] * np.abs(expected) + 8 * self.atol / rho) \
            & (np.abs(where - tp) < 2 * rho)
        return found, where

    def complete(self, needed: int) -> None:
        """Sightings for every unit up to ``needed``, from probe lines along its normal through the projections
        of N(0, I) points onto its hyperplane (spread where the inputs live, so that the offset is interpolated)."""
        U = self.units
        for _ in range(3):
            short = np.repeat(np.arange(U.mu.size), np.maximum(needed - U.sightings(), 0))
            for first in range(0, short.size, PROBES_PER_BATCH):
                if self.f.queries >= self.budget:
                    break
                units = short[first:first + PROBES_PER_BATCH]
                Z = self.rng.standard_normal((units.size, self.d))
                P = Z - (np.einsum("ij,ij->i", Z, U.n[units]) + U.beta[units])[:, None] * U.n[units]
                tp = np.zeros(units.size)
                found, where = self._probe(P, U.n[units], units, tp, np.full(units.size, 1e-2))
                for i, x in zip(units[found], P[found] + where[found, None] * U.n[units[found]], strict=True):
                    U.points[i].append(x)
        self.hyperplanes(final=False)

    def _new_units(self, p, v, t, gap, X) -> None:
        """The gradient jump at each kink, by central differences on both sides: one new unit each."""
        J, delta = self._jumps(v, gap, X)
        size = np.linalg.norm(J, axis=1)
        n = J / size[:, None]
        mu = np.sign(J @ v) * size
        error = self.atol / NOISE_ULPS * np.sqrt(self.d) / (delta / 2 * size) + 10 * self.eps  # one ulp per value
        self.units.add(n, -np.einsum("ij,ij->i", n, X), mu, error, X)

    def _jumps(self, V, gap, X) -> tuple[np.ndarray, np.ndarray]:
        """The gradient jumps at the kinks X (rows) of lines along V, from both sides ``delta = gap / 2`` away."""
        delta = np.minimum(gap / 2, 2.0)
        J = self._gradient(X + delta[:, None] * V, delta / 2) - self._gradient(X - delta[:, None] * V, delta / 2)
        return J, delta

    def hunt(self) -> bool:
        r"""Look for units the search missed (float32: slope jumps within its tests' rounding margins); whether
        some were added.

        On random lines f is linear between the known units' predicted kinks (less each prediction's error).
        HUNT_POINTS values on each such segment are fitted by one line and by two (split at every point); a
        drop of the squared residuals above HUNT_SIGNIFICANCE times the segment's rounding variance is a
        missed kink, where the two lines meet, of slope jump :math:`\mu\langle n, v\rangle`. The rounding's
        scale is eps times the largest sum of the terms' sizes on the segment, times its median ratio to the
        one-line residuals over all segments (most segments hold no kink). Kinks whose gradient jumps are
        parallel make one unit: the hyperplane through them (total least squares, from d + 2 of them; else
        through their mean, normal to the mean jump); units within 0.05 rad of a known one are not added.
        The polish then refines them with the others.
        """
        U, d, R, N = self.units, self.d, self.R, HUNT_POINTS
        if self.hunts >= HUNT_ROUNDS or self.f.queries >= self.budget or U.mu.size == 0 \
                or (U.mu.size + 2) * (d + 1) > POLISH_MAX_UNKNOWNS:  # the polish could not take one more unit
            return False
        self.hunts += 1
        self.hyperplanes(final=False)  # the hyperplanes through the kink points (a polish without a unit strays)
        P = self.rng.standard_normal((HUNT_LINES, d))
        V = self.rng.standard_normal((HUNT_LINES, d))
        V /= np.linalg.norm(V, axis=1, keepdims=True)
        lines, starts, stops = [], [], []
        for j in range(HUNT_LINES):  # segments between the predicted kinks
            slope = np.abs(U.n @ V[j])
            with np.errstate(divide="ignore", invalid="ignore"):
                where = -(U.n @ P[j] + U.beta) / (U.n @ V[j])
            inside = np.flatnonzero((np.abs(where) < R) & (slope > 1e-9))
            t = where[inside]
            spread = 10 * U.error[inside] * (1.0 + np.linalg.norm(P[j] + t[:, None] * V[j], axis=1)) / slope[inside]
            margin = np.maximum(1e-3 * (1.0 + np.abs(t)), spread)
            order = np.argsort(t)
            a = np.concatenate([[-R], (t + margin)[order]])
            b = np.concatenate([(t - margin)[order], [R]])
            keep = b - a > HUNT_MIN_LENGTH
            lines += [j] * int(keep.sum())
            starts.append(a[keep])
            stops.append(b[keep])
        li, a, b = np.array(lines, dtype=int), np.concatenate(starts), np.concatenate(stops)
        if li.size == 0:
            return False
        s = np.linspace(0.0, 1.0, N)
        T = a[:, None] + (b - a)[:, None] * s
        X = np.repeat(P[li], N, axis=0) + T.reshape(-1, 1) * np.repeat(V[li], N, axis=0)
        G = self.f(X).reshape(-1, N)
        terms = np.abs(np.maximum(X @ U.n.T + U.beta, 0.0) * U.mu).sum(axis=1).reshape(-1, N) + np.abs(G)
        rounding = self.eps * terms.max(axis=1)
        one = _line_residuals(G, s)
        c = np.median(np.sqrt(one / (N - 2)) / rounding)
        variance = (max(c, 1.0) * rounding) ** 2
        two = np.full((li.size, N), np.inf)
        for split in range(3, N - 2):
            two[:, split] = _line_residuals(G[:, :split], s[:split]) + _line_residuals(G[:, split:], s[split:])
        split = two.argmin(axis=1)
        found = np.flatnonzero((one - two[np.arange(li.size), split]) > HUNT_SIGNIFICANCE * variance)
        kinks, jumps = [], []
        for i in found:  # where the lines fitted on both sides of the split meet
            (g0, s0), (g1, s1) = (_line_fit(G[i, :split[i]], s[:split[i]]), _line_fit(G[i, split[i]:], s[split[i]:]))
            if s0 != s1:
                u = (g1 - g0) / (s0 - s1)
                if 0.0 < u < 1.0:
                    kinks.append((li[i], a[i] + u * (b[i] - a[i]), min(u, 1 - u) * (b[i] - a[i])))
                    jumps.append((s1 - s0) / (b[i] - a[i]))
        if not kinks:
            return False
        line, t, gap = (np.array(c) for c in zip(*kinks, strict=True))
        X = P[line] + t[:, None] * V[line]
        J, _ = self._jumps(V[line], gap, X)
        J /= np.linalg.norm(J, axis=1, keepdims=True)
        # a known unit's kink (its prediction's error underestimated): parallel jump, on its hyperplane
        off = np.abs(X @ U.n.T + U.beta) / (1.0 + np.linalg.norm(X, axis=1))[:, None]
        near = (np.abs(J @ U.n.T) > 0.8) & (off < 0.05)
        added, left = 0, np.argsort(-np.abs(np.array(jumps)))
        left = left[~near[left].any(axis=1)]
        while left.size:  # kinks with parallel gradient jumps (the largest first) make one unit
            cos = J[left] @ J[left[0]]
            group, left = left[np.abs(cos) > 0.8], left[np.abs(cos) <= 0.8]
            if group.size < 2:  # a unit is seen on several lines; one kink alone may be rounding
                continue
            n = (J[group] * np.sign(J[group] @ J[group[0]])[:, None]).mean(axis=0)
            n /= np.linalg.norm(n)
            center = X[group].mean(axis=0)
            if group.size >= d + 2:
                normal = np.linalg.svd(X[group] - center, full_matrices=False)[2][-1]
                n = normal * np.sign(normal @ n)
            lifted = np.append(n, -n @ center) / np.sqrt(1.0 + (n @ center) ** 2)
            known = np.hstack([U.n, U.beta[:, None]]) / np.sqrt(1.0 + U.beta ** 2)[:, None]
            if np.arccos(min(1.0, np.max(np.abs(known @ lifted)))) < 0.05:
                continue
            mu = np.median(np.array(jumps)[group] / (V[line[group]] @ n))
            U.add(n[None], np.array([-n @ center]), np.array([mu]), np.array([0.1]), X[group[:1]])
            U.points[-1] = list(X[group])
            added += 1
        self.hunted += added
        return added > 0

    def _gradient(self, X, h) -> np.ndarray:
        """Gradients at the rows of X by central differences; steps shrink where a kink lies within them."""
        m, d = X.shape
        grad, steps = np.zeros((m, d)), np.repeat(h[:, None], d, axis=1)
        f0 = self.f(X)
        todo = np.ones((m, d), dtype=bool)
        for _ in range(8):
            rows, cols = np.nonzero(todo)
            if rows.size == 0:
                break
            E = np.zeros((rows.size, d))
            E[np.arange(rows.size), cols] = steps[rows, cols]
            up, down = self.f(X[rows] + E), self.f(X[rows] - E)
            curved = np.abs(up + down - 2 * f0[rows]) > 8 * self.atol
            grad[rows, cols] = (up - down) / (2 * steps[rows, cols])
            todo[rows[~curved], cols[~curved]] = False
            steps[rows[curved], cols[curved]] /= 8
        return grad

    # -- refinement ---------------------------------------------------------------------------

    def hyperplanes(self, final: bool = True) -> float:
        """Refit each unit seen at >= d + 1 kinks to the hyperplane through them (total least squares), its
        error to the points' scatter; the largest relative residual. ``final``: refuse points off the plane."""
        U, worst = self.units, 0.0
        for i, points in enumerate(U.points):
            P = np.array(points)
            if len(P) > self.d and not final:  # points far off the plane of the others were matched wrongly
                off = np.abs(P @ U.n[i] + U.beta[i]) / (1.0 + np.linalg.norm(P, axis=1))
                P = P[off <= max(10 * np.median(off), 10 * self.eps)]
                U.points[i] = list(P)
            if len(P) > self.d:
                center = P.mean(axis=0)
                normal = np.linalg.svd(P - center, full_matrices=False)[2][-1]
                normal *= np.sign(normal @ U.n[i])
                U.n[i], U.beta[i] = normal, -normal @ center
            residual = np.abs(P @ U.n[i] + U.beta[i]) / (1.0 + np.linalg.norm(P, axis=1))
            worst = max(worst, float(residual.max()))
            if final and residual.max() > 100 * U.error[i] + 1e-9:
                raise ValueError(f"{self.f.name}: the kinks attributed to one unit do not lie on one hyperplane "
                                 f"(relative residual {residual.max():.3g}): not a one-hidden-layer ReLU network")
            if len(P) > self.d + 1:  # the scatter, from the residuals' degrees of freedom (d + 1 points fit exactly)
                scatter = np.median(residual) / 0.67 * np.sqrt(len(P) / (len(P) - self.d - 1))
                U.error[i] = max(float(scatter), 10 * self.eps)
        return worst

def _too_many_unknowns(f, unknowns: int, what: str) -> str:
    """Why a float32 oracle with ``unknowns`` unknowns cannot be polished, and what to do instead."""
    return (f"{f.name}: a float32 oracle with {what} has {unknowns} unknowns, above the {POLISH_MAX_UNKNOWNS} "
            "the float32 polish (a dense least squares) takes: its hyperplanes would stay at the kinks' precision "
            "(about 1e-4) and a missed unit could not be told from rounding; query the model in float64 "
            "(precision='float64' for a float32 torch module or ONNX graph, or a float64 numpy callable)")


def _line_fit(g: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """The least-squares line through the values ``g`` at ``s``: its value at 0 and its slope."""
    slope = (g - g.mean()) @ (s - s.mean()) / ((s - s.mean()) @ (s - s.mean()))
    return float(g.mean() - slope * s.mean()), float(slope)


def _line_residuals(G: np.ndarray, s: np.ndarray) -> np.ndarray:
    """The squared residuals of each row of G (values at ``s``) about its least-squares line."""
    centered, x = G - G.mean(axis=1, keepdims=True), s - s.mean()
    return np.sum(centered ** 2, axis=1) - (centered @ x) ** 2 / (x @ x)


def _assemble_hunting(search: _Search, rng, tol: float, explicit_tol: bool) -> tuple[ReLUNetwork, dict]:
    """:func:`_assemble`; for a float32 oracle whose network fails its check, or whose residual exceeds
    HUNT_ROUNDINGS times the oracle's rounding (a unit missed), hunt for the missed units and assemble again
    (at most HUNT_ROUNDS times)."""
    while True:
        try:
            net, stage = _assemble(search, rng, tol, explicit_tol)
        except ValueError:
            if search.low and search.hunt():
                continue
            raise
        if search.low and stage["prediction_error"] > HUNT_ROUNDINGS * stage["oracle_rounding"] and search.hunt():
            continue
        return net, stage


def _assemble(search: _Search, rng, tol: float, explicit_tol: bool) -> tuple[ReLUNetwork, dict]:
    """Weights by least squares, signs from the linear part, and the check on fresh queries (float32: against
    the oracle's rounding too, unless ``explicit_tol``)."""
    U, d, f = search.units, search.d, search.f
    k = len(U.mu)
    # float32 oracles: kinks are located to ~sqrt(eps) only; the polish fits the whole network instead
    unknowns = k * (d + 1) + d + 1
    polished = search.low and unknowns <= POLISH_MAX_UNKNOWNS
    warn = []
    if search.low and not polished:
        message = _too_many_unknowns(f, unknowns, f"{k} units in d={d}")
        if not explicit_tol:
            raise ValueError(f"{message}, or pass tol= to accept the unpolished network")
        warn.append(message)
    change = _polish(search) if polished else np.full(k, search.hyperplanes())  # each unit's relative error
    m = 2 * (k + d + 1) + 64
    X = search.points(2 * m)
    y = f(X)
    fit, check = slice(0, m), slice(m, 2 * m)
    hidden = lambda n, beta: np.maximum(X @ n.T + beta, 0.0)  # noqa: E731
    if polished:  # a unit within the check's acceptance of rounding everywhere here is none of f's (a stray hunt)
        size = np.abs(hidden(U.n, U.beta) * U.mu)
        floor = FLOOR_ROUNDINGS * search.eps * (size.sum(axis=1) + np.abs(y)).max()
        negligible = size.max(axis=0, initial=0.0) <= floor
        search.dropped += int(negligible.sum())
        U.keep(~negligible)
        k, change = len(U.mu), change[~negligible]
    worst = float(change.max(initial=search.eps))
    A = np.hstack([hidden(U.n, U.beta), X, np.ones((2 * m, 1))])
    coef = np.linalg.lstsq(A[fit], y[fit], rcond=None)[0]
    mu, c, b0 = coef[:k], coef[k:k + d], coef[-1]
    rms = float(np.sqrt(np.mean(y[check] ** 2))) + 1e-300
    residual = lambda net: float(np.max(np.abs(net.predict(X[check]) - y[check]))) / rms  # noqa: E731
    # the signs' noise: each unit's error in mu n relative to the largest (a small unit's large relative error is small)
    noise = float(np.max(np.abs(mu) * change, initial=0.0)) / (np.abs(mu).max(initial=0.0) + 1e-300)
    flipped, how = _flipped_set(mu[:, None] * U.n, -c, 10 * max(noise, search.eps))
    net = None
    if flipped is not None:
        n, beta = np.where(flipped[:, None], -U.n, U.n), np.where(flipped, -U.beta, U.beta)
        A = np.hstack([hidden(n, beta), np.ones((2 * m, 1))])
        coef = np.linalg.lstsq(A[fit], y[fit], rcond=None)[0]
        net = ReLUNetwork(coef[:k], n if k else np.zeros((0, d)), None, float(coef[-1]), biases=beta)
        error = residual(net)
    if net is None or error > tol:
        how = "unresolved"
        net = ReLUNetwork(mu, U.n if k else np.zeros((0, d)), c, float(b0), biases=U.beta)
        error = residual(net)
        warn.append("the units' signs are not resolved (no set of flipped units explains the linear part: f has a "
                    "linear term, or units always active on the probed lines); the network keeps a linear term, "
                    "its predictions are exact but each unit's orientation may be the opposite of f's")
    if error > tol:
        raise ValueError(f"{f.name}: the residual of the identified network on fresh queries is {error:.3g} "
                         "(relative), "
                         f"above tol={tol:.3g}: f is not a one-hidden-layer ReLU network at this precision (deeper, "
                         "another activation, or noisy outputs)")
    # the oracle's rounding at the check points: eps times the largest sum of the terms' sizes
    terms = np.abs(hidden(net.directions, net.biases) * net.weights).sum(axis=1) + np.abs(y) \
        + (np.abs(X * net.linear).sum(axis=1) if net.linear is not None else 0.0)
    rounding = search.eps * float(np.max(terms[check])) / rms
    if polished and error > FLOOR_ROUNDINGS * rounding:
        message = (f"the residual on fresh queries ({error:.3g}, relative) is {error / rounding:.0f} times the "
                   f"oracle's rounding ({rounding:.2g}; a correct network is within {FLOOR_ROUNDINGS:g} times it): "
                   f"a unit too small to be seen at {f.dtype} precision is missing, or some units are imprecise")
        if not explicit_tol:
            raise ValueError(f"{f.name}: {message}; {k} units identified. Query the model in float64 if it can "
                             "be, or pass tol= to accept this network")
        warn.append(message)
    elif polished and error > HUNT_ROUNDINGS * rounding:
        warn.append(f"the residual on fresh queries ({error:.3g}, relative) is {error / rounding:.1f} times the "
                    f"oracle's rounding ({rounding:.2g}; complete networks are within about 1 time it): a unit "
                    f"within {FLOOR_ROUNDINGS:g} roundings of 0 wherever it was queried may be missing")
    far = np.abs(net.biases) > GAUSSIAN_SIGMAS if net.biases is not None else np.zeros(0, bool)
    stage = {"units": net.k, "prediction_error": error, "hyperplane_residual": worst, "signs": how,
             "dead": np.flatnonzero(far & (net.biases < 0)).tolist() if k else [],
             "always_active": np.flatnonzero(far & (net.biases > 0)).tolist() if k else [],
             "missing_kinks": search.missing, "predicted_kinks": search.predicted,
             "dropped_units": search.dropped, "checks": m, "oracle_rounding": rounding,
             "warnings": warn}
    return net, stage


def _polish(search: _Search) -> float:
    r"""Refine every hyperplane by least squares of the whole network on fresh queries; each unit's last change.

    Given the activation pattern :math:`a_i(x) = 1[\langle n_i, x\rangle + \beta_i > 0]`, f is linear in
    :math:`w_i = \mu_i n_i`, :math:`\alpha_i = \mu_i \beta_i`, c and b_0:
    :math:`f(x) = \sum_i a_i(x) (\langle w_i, x\rangle + \alpha_i) + \langle c, x\rangle + b_0`. Each round
    takes the pattern of the current hyperplanes on fresh points of the probed region, solves for
    :math:`(w, \alpha, c, b_0)`, and sets :math:`n_i = \pm w_i / |w_i|`, :math:`\beta_i = \pm\alpha_i / |w_i|`
    (the sign keeps the orientation). Only points within the hyperplanes' error of a plane are
    misclassified, so the error shrinks each round until the oracle's rounding dominates
    (Gauss-Newton on a piecewise linear model). Units with fewer than d + 2 points on either side
    (dead or always active there) keep their hyperplane. Stops after a round that does not halve
    the residual (its change is then the precision reached), or after POLISH_ROUNDS rounds.
    """
    search.hyperplanes(final=False)  # the hyperplanes through each unit's kink points, to start from
    U, d, f = search.units, search.d, search.f
    k = len(U.mu)
    m = POLISH_ROWS * (k * (d + 1) + d + 1)
    change, best = np.ones(k), np.inf
    for _ in range(POLISH_ROUNDS):
        if f.queries + m > search.budget:
            break
        X = search.points(m)
        y = f(X)
        Z = X @ U.n.T + U.beta
        active = Z > 0
        free = (active.sum(axis=0) >= d + 2) & ((~active).sum(axis=0) >= d + 2)
        X1 = np.hstack([X, np.ones((m, 1))])
        blocks = [(active[:, i, None] * X1) for i in np.flatnonzero(free)]
        A = np.hstack(blocks + [np.maximum(Z[:, ~free], 0.0), X1])
        coef, *_ = np.linalg.lstsq(A, y, rcond=None)
        residual = float(np.max(np.abs(A @ coef - y)))
        if residual > 2 * best:
            break
        W = coef[:(d + 1) * free.sum()].reshape(-1, d + 1)
        size = np.linalg.norm(W[:, :d], axis=1)
        sign = np.sign(np.einsum("ij,ij->i", W[:, :d], U.n[free]))
        n, beta = sign[:, None] * W[:, :d] / size[:, None], sign * W[:, d] / size
        change = np.full(k, search.eps)
        change[free] = np.max(np.abs(np.hstack([n - U.n[free], (beta - U.beta[free])[:, None]])), axis=1)
        U.n[free], U.beta[free], U.mu[free] = n, beta, sign * size
        if residual >= best / 2:  # at the oracle's rounding: this round's change is the precision reached
            break
        best = residual
    return np.maximum(change, search.eps)


def _flipped_set(W: np.ndarray, target: np.ndarray, noise: float):
    r"""A 0/1 vector :math:`\sigma` with :math:`\sum_i \sigma_i w_i = t` (rows :math:`w_i` of W), or None.

    Least squares when the rows are independent, else the lattice of Lagarias and Odlyzko
    (reduced by LLL): :math:`(2e_i, 2Mw_i)` and :math:`(\mathbf 1, 2Mt)`, where
    :math:`(2\sigma - \mathbf 1, 0)` is a short vector; ``noise`` is the relative precision of W
    (``M <= 0.01 / noise``).
    """
    k = W.shape[0]
    if k == 0:
        return np.zeros(0, bool), "none"
    scale = np.abs(W).max()
    W, target = W / scale, target / scale
    accept = 1e2 * noise * (1.0 + np.abs(W).sum(axis=0).max())
    if np.linalg.matrix_rank(W, tol=1e-8) == k:
        sigma = np.round(np.linalg.lstsq(W.T, target, rcond=None)[0])
        candidates, how = [sigma], "least squares"
    else:
        M = min(1e-2 / noise, 2.0 ** (2 * k / W.shape[1] + 8))  # density k / (d log2 M) well below 1/2 (ours)
        basis = np.vstack([np.hstack([2 * np.eye(k), 2 * M * W]), np.concatenate([np.ones(k), 2 * M * target])])
        wanted = lambda row: bool(np.all(np.abs(np.abs(row[:k]) - 1) < 1e-6))  # noqa: E731
        candidates = [(1 + s * np.round(r[:k])) / 2 for r in _lll(basis, wanted) for s in (1, -1)]
        how = "lattice (LLL)"
    for sigma in candidates:
        if np.all((sigma == 0) | (sigma == 1)) and np.abs(sigma @ W - target).max() <= accept:
            return sigma.astype(bool), how
    return None, how


def _lll(B: np.ndarray, wanted=None, delta: float = 0.75) -> np.ndarray:
    """LLL-reduce the rows of B (floating point, Cohen's algorithm 2.6.3 with size reduction); stops early at
    a size-reduced row for which ``wanted(row)`` holds, returned first."""
    B = B.copy()
    n = len(B)
    Q, R = np.linalg.qr(B.T)
    mu = (R / np.diag(R)[:, None]).T  # mu[i, j] = <b_i, b*_j> / |b*_j|^2
    norms = np.diag(R) ** 2
    k = 1
    for _ in range(100 * n * n):
        if k >= n:
            break
        big = np.flatnonzero(np.abs(mu[k, :k]) > 0.5)
        while big.size:  # size reduction, from the last coefficient down
            j = big[-1]
            q = np.round(mu[k, j])
            B[k] -= q * B[j]
            mu[k, :j + 1] -= q * mu[j, :j + 1]
            big = np.flatnonzero(np.abs(mu[k, :j]) > 0.5)
        if wanted is not None and wanted(B[k]):
            return np.vstack([B[k:k + 1], B])
        if norms[k] >= (delta - mu[k, k - 1] ** 2) * norms[k - 1]:
            k += 1
            continue
        B[[k, k - 1]] = B[[k - 1, k]]
        m = mu[k, k - 1]
        total = norms[k] + m * m * norms[k - 1]
        mu[k, k - 1] = m * norms[k - 1] / total
        norms[k], norms[k - 1] = norms[k - 1] * norms[k] / total, total
        mu[[k, k - 1], :k - 1] = mu[[k - 1, k], :k - 1]
        rest = mu[k + 1:, k].copy()
        mu[k + 1:, k] = mu[k + 1:, k - 1] - m * rest
        mu[k + 1:, k - 1] = rest + mu[k, k - 1] * mu[k + 1:, k]
        k = max(k - 1, 1)
    return B
