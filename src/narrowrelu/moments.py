r"""Streaming estimators of the Hermite moments and their random contractions.

Everything the learners know about the data comes from one accumulator, shaped like an
optax transformation (state is a value; the functions are pure):

``init(spec) -> MomentState``, ``update(state, spec, X, y, start) -> MomentState``,
``merge(a, b) -> MomentState`` (associative: chunk loops, threads, GPUs and Dask
tree-reductions all use it), ``finalize(state, spec) -> Moments``.

For a target :math:`t` (the labels :math:`y`, or the residual :math:`r = y - q(x)` of a model
``q`` already fitted) it accumulates, per batch :math:`b` (a fixed pseudo-random function of
the row index, :func:`batch_of`),

.. math::

   \hat T_0 = \overline{t},\quad
   \hat T_1 = \overline{(t - \bar t)\,x},\quad
   \hat T_2 = \overline{(t - \bar t)\,x x^T},\quad
   \hat M_\ell(g) = \overline{t\,K_\ell(x; g)}
   \quad\text{for even } \ell \text{ and every row } g \text{ of the spec's directions,}

where :math:`K_\ell` is the contraction kernel of :mod:`narrowrelu.hermite`. :math:`\hat T_1`
and :math:`\hat T_2` are centred (docs/maths.md §2): since :math:`E[x] = 0` and
:math:`E[xx^T - I] = 0` they estimate :math:`E[t\,x]` and :math:`E[t\,(xx^T - I)]` for any
constant added to :math:`t` (with a bias of :math:`-T_\ell/n`, far below their noise); without
the centring a constant :math:`c` in :math:`t` adds :math:`c^2\,\mathrm{Var}(xx^T)/n` to their
variance. They are mergeable: :math:`\sum t\,xx^T`, :math:`\sum xx^T`, :math:`\sum t` and
:math:`n` are sums. All the weighted Gram matrices :math:`\sum_n t_n a_\ell(s_{nj})\,x_n x_n^T`
of one chunk are one GEMM.

Rows go to batches by a hash of their index, not in runs of consecutive rows: every batch is
a uniformly random subset of the rows, whatever their order in the file (sorted by the label
or by a feature, say), so the batch-to-batch spread calibrates the noise of shuffled rows.
Residualisation (docs/maths.md §2): :math:`E[q(x)\,\mathrm{He}_\ell(x)] = 0` for every polynomial
:math:`q` of degree :math:`< \ell`, so subtracting the degree-:math:`\le 2` fit before
estimating :math:`M_\ell`, :math:`\ell \ge 4`, leaves the estimand unchanged and cuts the
variance by the ratio :math:`\mathrm{Var}(r)/\mathrm{Var}(y)`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from functools import cached_property, reduce

import numpy as np

from ._arrays import like, mix64, namespace, ordered_map, single_blas_thread, take
from ._validation import check_positive_int, check_samples, check_unit_vector
from .hermite import contraction_weights

__all__ = [
    "MomentSpec",
    "MomentState",
    "Moments",
    "QuadraticModel",
    "init",
    "to_numpy",
    "update",
    "update_in_place",
    "merge_into",
    "state_bytes",
    "merge",
    "finalize",
    "accumulate",
    "low_degree",
    "contraction",
    "weighted_grams",
    "signed_gram",
    "batch_of",
    "operator_norm_standard_error",
]

#: Rows per block inside :func:`weighted_grams`: a scaled copy of this many rows stays in
#: cache between its multiply and its rank-k update (ours; measured on a 2-core EPYC VM).
GRAM_BLOCK_ROWS = 4096
#: Memory for one chunk's temporaries, in bytes (ours; the engine picks rows from it).
DEFAULT_CHUNK_BYTES = 256 * 2**20


@dataclass(frozen=True)
class QuadraticModel:
    r"""The degree-:math:`\le 2` Hermite fit of the labels, optionally on top of a network.

    .. math:: q(x) = n(x) + T_0 + \langle T_1, x\rangle + \tfrac12\langle T_2, xx^T - I\rangle

    where :math:`n` is ``network`` (zero when None) and :math:`T_\ell` are then the moments
    of :math:`y - n(x)` (:meth:`Moments.quadratic_model`).
    """

    T0: float
    T1: np.ndarray
    T2: np.ndarray
    network: object | None = None

    @cached_property
    def _factors(self) -> tuple[np.ndarray, np.ndarray]:
        r""":math:`T_2 = W\,\mathrm{diag}(\mu)\,W^T` over its non-zero eigenvalues: a :math:`T_2`
        projected onto r directions then costs O(n d r) to evaluate, not O(n d^2)."""
        mu, W = np.linalg.eigh(self.T2)
        keep = np.abs(mu) > 1e-12 * max(float(np.max(np.abs(mu), initial=0.0)), 1e-300)
        return mu[keep], W[:, keep]

    def predict(self, X):
        """q(X) for numpy arrays or array-API arrays (computed in the namespace of ``X``)."""
        mu, W = self._factors
        XW = X @ like(W, X)
        quadratic = (XW * XW) @ like(mu, X)
        q = self.T0 + X @ like(self.T1, X) + 0.5 * (quadratic - float(np.trace(self.T2)))
        return q if self.network is None else q + self.network.predict(X)


@dataclass(frozen=True, eq=False)
class MomentSpec:
    """What one pass accumulates.

    Parameters
    ----------
    d : int
        Number of features.
    degrees : tuple of int, default=()
        Even degrees :math:`\\ell \\ge 2` of the contractions :math:`M_\\ell(g)`.
    directions : ndarray of shape (p, d) or None
        Unit contraction vectors :math:`g` (rows). Required when ``degrees`` is not empty.
    n_batches : int, default=8
        Number of batches kept separately for noise calibration (ours).
    batch_rows : int, default=1
        Rows that go to a batch together: row ``i`` is in batch
        ``batch_of(i // batch_rows, n_batches)``. With 1 (the default) every row is assigned
        on its own, which makes the noise calibration independent of the row order.
    residual : object with ``predict(X)`` or None
        Model subtracted from ``y`` before accumulating (variance reduction).
    squared : bool, default=False
        Also estimate :math:`T_2` of the squared target, :math:`E[t^2 (xx^T - I)]` (one
        more weighted Gram matrix; :attr:`Moments.T2_squared`).
    """

    d: int
    degrees: tuple[int, ...] = ()
    directions: np.ndarray | None = None
    n_batches: int = 8
    batch_rows: int = 1
    residual: Callable | None = None
    squared: bool = False

    def __post_init__(self):
        check_positive_int(self.d, "d")
        check_positive_int(self.n_batches, "n_batches")
        check_positive_int(self.batch_rows, "batch_rows")
        for degree in self.degrees:
            if degree < 2 or degree % 2:
                raise ValueError(
                    f"degrees must be even integers >= 2 (odd moments of degree >= 3 vanish "
                    f"for ReLU), got {degree}"
                )
        if self.degrees:
            G = np.asarray(self.directions, dtype=np.float64) if self.directions is not None else None
            if G is None or G.ndim != 2 or G.shape[1] != self.d or G.shape[0] == 0:
                raise ValueError(f"directions must be an array of shape (p, {self.d}) when degrees are given")
            norms = np.linalg.norm(G, axis=1)
            if not np.all(np.isfinite(G)) or np.max(np.abs(norms - 1.0)) > 1e-6:
                raise ValueError("directions must be finite unit vectors (rows of norm 1)")
            object.__setattr__(self, "directions", G)

    @property
    def n_directions(self) -> int:
        return 0 if not self.degrees else self.directions.shape[0]


@dataclass
class MomentState:
    """Per-batch sums; two states of the same spec add up (see :func:`merge`)."""

    count: np.ndarray  # (B,)
    sum_t: np.ndarray  # (B,)
    sum_tt: np.ndarray  # (B,)
    sum_tx: np.ndarray  # (B, d)
    sum_x: np.ndarray  # (B, d)
    gram_x: np.ndarray  # (B, d, d): sum x x^T
    gram: np.ndarray  # (B, 1 + L p [+ 1], d, d): sum t x x^T, then sum t a_l(s) x x^T [, sum t^2 x x^T]
    vec: np.ndarray  # (B, L, p, d): sum t b_l(s) x
    sum_a: np.ndarray  # (B, L, p)
    sum_c: np.ndarray  # (B, L, p)


@dataclass
class Moments:
    r"""Finalised estimates; ``batch_*`` hold the same statistic per batch (for noise scales).

    Attributes
    ----------
    n : int
    T0 : float
    T1 : ndarray of shape (d,)
    T2 : ndarray of shape (d, d)
    second_moment : float, the mean of :math:`t^2`
    M : ndarray of shape (L, p, d, d), :math:`\hat M_\ell(g_j)` for ``degrees[l]``, ``directions[j]``
    batch_T2 : ndarray of shape (B, d, d)
    batch_M : ndarray of shape (B, L, p, d, d)
    T2_squared, batch_T2_squared : ndarray of shape (d, d) and (B, d, d), or None
        :math:`E[t^2 (xx^T - I)]` when the spec asked for it (``squared=True``).
    """

    n: int
    T0: float
    T1: np.ndarray
    T2: np.ndarray
    second_moment: float
    M: np.ndarray
    batch_T2: np.ndarray = field(repr=False)
    batch_M: np.ndarray = field(repr=False)
    batch_count: np.ndarray = field(repr=False)
    T2_squared: np.ndarray | None = None
    batch_T2_squared: np.ndarray | None = field(default=None, repr=False)
    _noise: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    def quadratic_model(self, network=None, span: np.ndarray | None = None) -> QuadraticModel:
        r"""The degree-<=2 Hermite fit of the labels.

        With a ``network`` (a :class:`~narrowrelu.network.ReLUNetwork`): that network plus the
        fit of :math:`y - n(x)`, whose moments are these minus the network's exact ones (no
        pass over the data). With ``span`` (d, r), :math:`T_2` is projected onto span
        ``span``: off the significant directions it is noise, of operator norm
        :math:`\sim\sqrt{d/n}` but of total variance :math:`\sim d^2/n`, which would
        otherwise enter every residual.

        Residualising on it removes the network and the degree-<=2 component of what it
        misses, which keeps the noise of the higher-degree moments small.
        """
        N0, N1, N2 = (0.0, 0.0, 0.0) if network is None else network.hermite_moments()
        T2 = self.T2 - N2
        if span is not None:
            P = span @ span.T
            T2 = P @ T2 @ P
        return QuadraticModel(self.T0 - N0, self.T1 - N1, T2, network)

    def _standard_error(self, name: str) -> np.ndarray:
        """:func:`operator_norm_standard_error` of ``batch_<name>``, computed once (B eigenvalue problems
        of size d each: at d = 1000 they cost more than a pass's weighted Gram matrix)."""
        if name not in self._noise:
            self._noise[name] = operator_norm_standard_error(getattr(self, f"batch_{name}"), self.batch_count)
        return self._noise[name]

    def T2_noise(self) -> float:
        """Operator-norm standard error of :attr:`T2`, from the batch-to-batch spread."""
        return float(self._standard_error("T2"))

    def T2_squared_noise(self) -> float:
        """Operator-norm standard error of :attr:`T2_squared`."""
        return float(self._standard_error("T2_squared"))

    def M_noise(self) -> np.ndarray:
        """Operator-norm standard errors of :attr:`M`, shape (L, p)."""
        return self._standard_error("M").copy()


def operator_norm_standard_error(batches: np.ndarray, counts: np.ndarray) -> np.ndarray:
    r"""Standard error, in operator norm, of the pooled mean of symmetric batch estimates.

    .. math:: \widehat{se} = \Big(\frac{1}{B-1}\sum_b \frac{n_b}{n}\,\|S_b - \bar S\|_{op}^2\Big)^{1/2}

    with :math:`\bar S = \sum_b n_b S_b / n`. ``batches`` has shape (B, ..., d, d).
    """
    counts = np.asarray(counts, dtype=np.float64)
    used = counts > 0
    if used.sum() < 2:
        return np.full(batches.shape[1:-2], np.inf)
    S, share = batches[used], counts[used] / counts[used].sum()
    mean = np.tensordot(share, S, axes=1)
    spread = np.abs(np.linalg.eigvalsh(S - mean)).max(axis=-1)
    return np.sqrt(np.tensordot(share, spread**2, axes=1) / (used.sum() - 1))


def init(spec: MomentSpec, like=None) -> MomentState:
    """An empty state for ``spec`` (float64 arrays in the namespace and on the device of ``like``)."""
    B, d, L, p = spec.n_batches, spec.d, len(spec.degrees), spec.n_directions
    if like is None or namespace(like) is np:
        zeros = np.zeros
    else:
        xp = namespace(like)
        zeros = lambda shape: xp.zeros(shape, dtype=like.dtype, device=like.device)  # noqa: E731
    return MomentState(
        count=zeros((B,)),
        sum_t=zeros((B,)),
        sum_tt=zeros((B,)),
        sum_tx=zeros((B, d)),
        sum_x=zeros((B, d)),
        gram_x=zeros((B, d, d)),
        gram=zeros((B, 1 + L * p + spec.squared, d, d)),
        vec=zeros((B, L, p, d)),
        sum_a=zeros((B, L, p)),
        sum_c=zeros((B, L, p)),
    )


def to_numpy(state: MomentState) -> MomentState:
    """The same state with numpy arrays (from a torch engine's device arrays)."""
    if namespace(state.gram) is np:
        return state
    return MomentState(**{f.name: np.asarray(getattr(state, f.name).cpu(), dtype=np.float64)
                          for f in fields(MomentState)})


def merge(a: MomentState, b: MomentState) -> MomentState:
    """The state of the union of the rows behind ``a`` and ``b`` (elementwise sum)."""
    return MomentState(**{f.name: getattr(a, f.name) + getattr(b, f.name) for f in fields(MomentState)})


def merge_into(a: MomentState, b: MomentState) -> None:
    """:func:`merge` without the copy: ``b``'s sums added into ``a`` itself (the same numbers)."""
    for f in fields(MomentState):
        getattr(a, f.name).__iadd__(getattr(b, f.name))


def state_bytes(d: int, grams: int, n_batches: int = 8) -> int:
    """Bytes of the per-batch d x d sums of ``grams`` weighted Gram matrices (what dominates a state)."""
    return 8 * n_batches * grams * d * d


def weighted_grams(X, W):
    r"""All weighted Gram matrices :math:`G_j = \sum_n W_{nj}\, x_n x_n^T` of one block of rows, and :math:`X^TX`.

    With the shift :math:`m_j = \max(0, -\min_n W_{nj})`,
    :math:`G_j = A_j^TA_j - m_j X^TX` where :math:`A_j = \sqrt{W_{\cdot j} + m_j} \odot X`:
    symmetric rank-k updates (BLAS ``syrk``, which numpy calls for ``A.T @ A``) do half the
    flops of a GEMM, and :math:`X^TX` is shared by all columns. The shift costs about
    :math:`\log_{10}(m_j / |W|)` digits, far below the statistical error.

    Parameters
    ----------
    X : array of shape (n, d) (numpy, or an array-API array such as a torch tensor)
    W : array of shape (n, q)

    Returns
    -------
    grams : array of shape (q, d, d)
    gram : array of shape (d, d), :math:`X^TX`
    """
    xp = namespace(X, W)
    shift = -xp.min(W, axis=0)
    shift = xp.where(shift > 0, shift, 0 * shift)
    roots = xp.sqrt(W + shift).T
    if xp is np:  # one reused buffer, scales read contiguously
        roots, buffer = np.ascontiguousarray(roots), np.empty((min(GRAM_BLOCK_ROWS, X.shape[0]), X.shape[1]))
    # Rows in blocks so that each scaled copy is consumed while in cache; a GPU takes the chunk whole.
    step = GRAM_BLOCK_ROWS if xp is np else X.shape[0]
    grams, gram = [0.0] * W.shape[1], 0.0
    for start in range(0, X.shape[0], step):
        block = X[start:start + step]
        gram = gram + block.T @ block
        for j in range(W.shape[1]):
            scale = roots[j, start:start + block.shape[0], None]
            A = np.multiply(block, scale, out=buffer[: block.shape[0]]) if xp is np else block * scale
            grams[j] = grams[j] + A.T @ A
    return xp.stack(grams) - shift[:, None, None] * gram, gram


def _add_rows(part: MomentState, b: int, spec: MomentSpec, X, t, S) -> None:
    """Add the sums over the rows ``X``, ``t`` (all of batch ``b``) into ``part``, in place."""
    xp = namespace(X)
    weights, firsts = [t[:, None]], []
    for i, degree in enumerate(spec.degrees):
        a, bb, c = contraction_weights(degree, S)
        weights.append(t[:, None] * a)
        firsts.append(t[:, None] * bb)
        part.sum_a[b, i] += t @ a
        part.sum_c[b, i] += t @ c
    ones = xp.ones_like(t)[:, None]
    linear = X.T @ xp.concat([*firsts, t[:, None], ones], axis=1)  # every first-order sum in one read of X
    part.vec[b] += xp.reshape(linear[:, :-2].T, part.vec.shape[1:])
    part.count[b] += t.shape[0]
    part.sum_t[b] += xp.sum(t)
    part.sum_tt[b] += t @ t
    part.sum_tx[b] += linear[:, -2]
    part.sum_x[b] += linear[:, -1]
    if spec.squared:
        weights.append((t * t)[:, None])
    grams, gram = weighted_grams(X, xp.concat(weights, axis=1))
    part.gram[b] += grams
    part.gram_x[b] += gram


def update(state: MomentState, spec: MomentSpec, X: np.ndarray, y: np.ndarray, start: int = 0,
           rows: np.ndarray | None = None) -> MomentState:
    """Add the rows ``X`` (n, d), ``y`` (n,) whose first row has global index ``start``.

    Row ``i`` (global index) belongs to batch ``batch_of(i // batch_rows, n_batches)``, so any
    chunking of the same rows gives the same per-batch sums (to rounding). ``rows``, when
    given, are the positions in ``X`` of the rows to add (the others are held out). Returns a
    new state; ``state`` is not modified.
    """
    result = merge(state, init(spec))
    update_in_place(result, spec, X, y, start, rows)
    return result


def update_in_place(state: MomentState, spec: MomentSpec, X, y, start: int = 0, rows: np.ndarray | None = None) -> None:
    """:func:`update` without the copy: adds the rows' sums into ``state`` itself.

    ``X``, ``y`` may be numpy arrays or, with the torch engine, tensors on the state's device.
    The rows are gathered once, batch by batch (the held-out ones left out in the same copy).
    """
    if namespace(X) is np:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    rows = np.arange(y.shape[0]) if rows is None else np.asarray(rows)
    batch = batch_of((start + rows) // spec.batch_rows, spec.n_batches)
    order = rows[np.argsort(batch.astype(np.uint8) if spec.n_batches <= 256 else batch, kind="stable")]
    cuts = np.r_[0, np.cumsum(np.bincount(batch, minlength=spec.n_batches))]
    X, y = take(X, order), take(y, order)  # each batch's rows are now one contiguous block
    t = y if spec.residual is None else y - spec.residual.predict(X)
    S = X @ like(spec.directions, X).T if spec.degrees else None
    for b in range(spec.n_batches):
        block = slice(int(cuts[b]), int(cuts[b + 1]))
        if cuts[b + 1] > cuts[b]:
            _add_rows(state, b, spec, X[block], t[block], None if S is None else S[block])


def batch_of(index, n_batches: int) -> np.ndarray:
    """The batch of each row index: ``splitmix64(index) mod n_batches``.

    A fixed pseudo-random assignment: it depends on nothing but the index (not the chunking,
    the engine or the number of cores), and the rows of any one batch are a uniformly
    spread random subset of every run of consecutive rows, whatever the order of the rows.
    """
    return (mix64(index) % np.uint64(n_batches)).astype(np.intp)


def _contractions(spec: MomentSpec, gram, vec, sum_a, sum_c, count) -> np.ndarray:
    """Assemble :math:`\\hat M_\\ell(g)` (..., L, p, d, d) from sums with leading batch axes."""
    L, p, d = len(spec.degrees), spec.n_directions, spec.d
    lead = gram.shape[:-3]
    if not L:
        return np.zeros(lead + (0, 0, d, d))
    G = spec.directions
    M = gram[..., 1:1 + L * p, :, :].reshape(lead + (L, p, d, d)).copy()
    M -= sum_a[..., None, None] * np.eye(d)
    outer = G[:, :, None] * vec[..., :, :, None, :]
    M += outer + np.swapaxes(outer, -1, -2)
    M += sum_c[..., None, None] * (G[:, :, None] * G[:, None, :])
    return M / np.maximum(count, 1)[(...,) + (None,) * 4]


def finalize(state: MomentState, spec: MomentSpec) -> Moments:
    """Turn sums into estimates (pooled and per batch)."""
    state = to_numpy(state)
    n = state.count.sum()
    if n == 0:
        raise ValueError("no rows were accumulated: the data source is empty")
    total = lambda a: a.sum(axis=0)  # noqa: E731 - pooled sums over batches
    count = state.count[:, None, None]

    def centred(weighted: np.ndarray, plain: np.ndarray, sums: np.ndarray, n) -> np.ndarray:
        """(sum w z - mean(w) sum z) / n: the centred estimate of E[w z] for E[z] = 0."""
        return (weighted - sums / np.maximum(n, 1) * plain) / np.maximum(n, 1)

    def second_moment(slot: int, sums: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """E[w (xx^T - I)] pooled and per batch, for the Gram slot of weight w (sums of w)."""
        gram = state.gram[:, slot]
        return (centred(total(gram), total(state.gram_x), sums.sum(), n),
                centred(gram, state.gram_x, sums[:, None, None], count))

    T2, batch_T2 = second_moment(0, state.sum_t)
    T2_squared, batch_T2_squared = second_moment(-1, state.sum_tt) if spec.squared else (None, None)
    return Moments(
        n=int(n),
        T0=float(state.sum_t.sum() / n),
        T1=centred(total(state.sum_tx), total(state.sum_x), state.sum_t.sum(), n),
        T2=T2,
        second_moment=float(state.sum_tt.sum() / n),
        M=_contractions(spec, total(state.gram), total(state.vec), total(state.sum_a), total(state.sum_c), n),
        batch_T2=batch_T2,
        batch_M=_contractions(spec, state.gram, state.vec, state.sum_a, state.sum_c, state.count),
        batch_count=state.count.copy(),
        T2_squared=T2_squared,
        batch_T2_squared=batch_T2_squared,
    )


def default_n_jobs() -> int:
    """Cores available to this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def chunk_rows(spec: MomentSpec, budget_bytes: int = DEFAULT_CHUNK_BYTES) -> int:
    """Rows per chunk so that one chunk's temporaries fit in ``budget_bytes``."""
    per_row = 8 * (3 * spec.d + 4 * (1 + len(spec.degrees) * spec.n_directions + spec.squared))
    return max(256, int(budget_bytes // per_row))


def chunk_state(spec: MomentSpec, X, y, start=0) -> MomentState:
    """The sums of one chunk of rows on their own (an engine merges them in chunk order)."""
    state = init(spec, X)
    update_in_place(state, spec, X, y, start)
    return state


def accumulate(
    X, y, spec: MomentSpec, *, n_jobs: int | None = None, chunk_size: int | None = None
) -> MomentState:
    """One pass over in-memory rows: chunks of ``chunk_size`` rows on ``n_jobs`` threads (BLAS
    pinned to one thread), their sums merged in chunk order.

    The result depends on ``chunk_size`` (to rounding) but not on ``n_jobs``; it is bit for bit
    that of the numpy engine (:class:`narrowrelu.engines.Engine`) with the same chunks.
    """
    X, y = check_samples(X, y, spec.d)
    rows = chunk_size or chunk_rows(spec)
    states = ordered_map(lambda a: chunk_state(spec, X[a:a + rows], y[a:a + rows], a), range(0, len(y), rows),
                         n_jobs or default_n_jobs())
    return reduce(merge, states, init(spec))


def low_degree(X, y, *, n_batches: int = 8, **engine) -> Moments:
    """:math:`\\hat T_0, \\hat T_1, \\hat T_2` of ``y`` in one pass."""
    X, y = check_samples(X, y)
    spec = MomentSpec(d=X.shape[1], n_batches=n_batches)
    return finalize(accumulate(X, y, spec, **engine), spec)


def signed_gram(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    r""":math:`\sum_n w_n\, x_n x_n^T` for signed weights in one symmetric rank-k update over the rows.

    In each block of ``GRAM_BLOCK_ROWS`` rows the rows are gathered by the sign of their weight
    into a reused buffer: :math:`\sum_{w_n > 0} a_na_n^T - \sum_{w_n < 0} a_na_n^T` with
    :math:`a_n = \sqrt{|w_n|}\,x_n`, so every row enters one ``syrk`` once, at the flops of
    :math:`X^TX` (the shift of :func:`weighted_grams` also needs :math:`X^TX`, which pays when
    many weights share it, as in a pass). numpy arrays.
    """
    buffer = np.empty((min(GRAM_BLOCK_ROWS, X.shape[0]), X.shape[1]))
    G = np.zeros((X.shape[1], X.shape[1]))
    for start in range(0, X.shape[0], GRAM_BLOCK_ROWS):
        block, weight = X[start:start + GRAM_BLOCK_ROWS], w[start:start + GRAM_BLOCK_ROWS]
        for sign in (1.0, -1.0):
            rows = np.flatnonzero(sign * weight > 0)
            A = np.take(block, rows, axis=0, out=buffer[: len(rows)])
            A *= np.sqrt(sign * weight[rows])[:, None]
            G += sign * (A.T @ A)
    return G


def contraction(X, y, g, degree: int) -> np.ndarray:
    r"""Estimate :math:`M_\ell(g) = c_\ell \sum_i \lambda_i \langle u_i, g\rangle^{\ell-2} u_i u_i^T`.

    .. math:: \hat M_\ell(g) = \frac1n\Big(\sum_n t_na_n\,x_nx_n^T - \sum_n t_na_n\,I
              + gv^T + vg^T + \sum_n t_nc_n\,gg^T\Big),\quad v = \sum_n t_nb_n\,x_n

    with the weights :math:`a, b, c` of :func:`narrowrelu.hermite.contraction_weights` at
    :math:`s = \langle g, x\rangle` (the estimate of :func:`finalize`). For ``degree >= 4`` the
    target is residualised against the degree-:math:`\le 2` Hermite fit of ``y`` on the same rows
    (O(1/N) bias, large variance reduction):
    :math:`t = y - \bar y - \langle T_1, x\rangle - \tfrac12(x^TT_2x - \mathrm{tr}\,T_2)` with the
    centred :math:`T_1 = X^T(y - \bar y)/n`, :math:`T_2 = \sum_n (y_n - \bar y)\,x_nx_n^T/n`
    (:func:`low_degree`, to rounding); otherwise :math:`t = y`. One pass takes :math:`T_2`
    (:func:`signed_gram`), a second, block by block, the residual and the contraction, with BLAS
    on one thread: about the time of one :math:`X^TX` for ``degree = 2`` and of four for
    ``degree >= 4`` (:math:`x^TT_2x` is a GEMM; docs/engineering.md).

    Parameters
    ----------
    X : array_like of shape (n, d)
    y : array_like of shape (n,)
    g : array_like of shape (d,), a unit vector
    degree : int, even, >= 2

    Returns
    -------
    ndarray of shape (d, d)
    """
    X, y = check_samples(X, y)
    g = check_unit_vector(g, "g", X.shape[1])
    if isinstance(degree, bool) or not isinstance(degree, int | np.integer) or degree < 2 or degree % 2:
        raise ValueError(f"degree must be an even integer >= 2, got {degree!r}")
    n, d = X.shape
    with single_blas_thread():
        if degree >= 4:
            centred = y - y.mean()
            T1, T2 = X.T @ centred / n, signed_gram(X, centred) / n
        M, v, sum_a, sum_c = np.zeros((d, d)), np.zeros(d), 0.0, 0.0
        for start in range(0, n, GRAM_BLOCK_ROWS):
            block, t = X[start:start + GRAM_BLOCK_ROWS], y[start:start + GRAM_BLOCK_ROWS]
            if degree >= 4:
                t = (centred[start:start + GRAM_BLOCK_ROWS] - block @ T1
                     - 0.5 * (np.einsum("ij,ij->i", block @ T2, block) - np.trace(T2)))
            a, b, c = contraction_weights(int(degree), block @ g)
            M += signed_gram(block, t * a)
            v += block.T @ (t * b)
            sum_a, sum_c = sum_a + t @ a, sum_c + t @ c
        M += np.outer(g, v) + np.outer(v, g) + sum_c * np.outer(g, g) - sum_a * np.eye(d)
        return M / n
