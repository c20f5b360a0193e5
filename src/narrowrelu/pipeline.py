"""The data stage: the row split, the rows kept in memory, and the passes of the moment engine.

Data flows one way: source -> moments (:mod:`narrowrelu.pipeline`) -> subspace
(:mod:`narrowrelu.subspace`) -> neurons inside it (:mod:`narrowrelu.inside`) -> polish and
forms (:mod:`narrowrelu.forms`, :mod:`narrowrelu.repairs`) -> network. Held-out rows are read
only by :mod:`narrowrelu.selection`.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field

import numpy as np

from . import moments
from .engines import Engine, RowPlan
from .report import Report
from .sources import Source

__all__ = ["Data", "Memory", "scan", "moment_pass", "kept_rows", "MAX_VALIDATION_ROWS", "MAX_KEPT_ROWS",
           "DEFAULT_MEMORY"]

#: Validation rows kept in memory at most; beyond that the held-out share shrinks (ours).
MAX_VALIDATION_ROWS = 200_000
#: Training rows kept in memory for fitting and polishing at most (ours).
MAX_KEPT_ROWS = 400_000
#: ``learn``'s memory budget when none is given: 2 GiB, a laptop's share (ours).
DEFAULT_MEMORY = 2 * 2**30
#: Shares of the budget (ours): the kept training rows, the held-out rows, and the chunk
#: temporaries of a pass (all threads together). The kept rows are copied once when their
#: moments are taken (batch by batch), so rows kept and their copy take 2/3, the held-out rows
#: 1/6, and the rest is left for the fit and the polish, whose temporaries are blocks of rows.
KEPT_SHARE, VALIDATION_SHARE, CHUNK_SHARE = 1 / 3, 1 / 6, 1 / 4
#: The rest holds a pass's moment sums: B per-batch d x d matrices per weighted Gram matrix,
#: of which about ``SUMS_COPIES`` copies are alive at a pass's peak (the merged state, each
#: thread's chunk state, the finalised estimates and their noise scales; ours, an estimate
#: checked with a traced-allocation profile, docs/results/memory/).
SUMS_SHARE, SUMS_COPIES = 1 / 4, 6


@dataclass(frozen=True)
class Memory:
    r"""How ``learn`` spends a memory budget of ``bytes`` (docs/engineering.md).

    A row of d inputs and its label take :math:`8(d + 1)` bytes in memory (float64). At most
    ``KEPT_SHARE`` of the budget holds kept training rows (never more than ``MAX_KEPT_ROWS``),
    ``VALIDATION_SHARE`` held-out rows (at most ``MAX_VALIDATION_ROWS``) and ``CHUNK_SHARE`` the
    chunks a pass has in flight: each chunk's temporaries are ``min(DEFAULT_CHUNK_BYTES,
    CHUNK_SHARE x bytes)`` (so its rows do not depend on the number of cores), and the threads
    of the numpy engine are capped so that their chunks fit. The rest, ``SUMS_SHARE``, holds
    the sums of a pass: a discovery pass whose sums would not fit is split into passes over
    fewer contraction vectors (:meth:`contractions_per_pass`), and the threads of a pass are
    capped so that their chunk states fit (:meth:`pass_jobs`).
    """

    bytes: int = DEFAULT_MEMORY

    def validation_rows(self, d: int) -> int:
        return min(MAX_VALIDATION_ROWS, max(1, int(VALIDATION_SHARE * self.bytes) // (8 * (d + 1))))

    def kept_rows(self, d: int) -> int:
        return min(MAX_KEPT_ROWS, max(1, int(KEPT_SHARE * self.bytes) // (8 * (d + 1))))

    @property
    def chunk_bytes(self) -> int:
        return min(moments.DEFAULT_CHUNK_BYTES, int(CHUNK_SHARE * self.bytes))

    @property
    def jobs(self) -> int:
        """Threads whose chunks fit in the budget's chunk share."""
        return max(1, int(CHUNK_SHARE * self.bytes) // self.chunk_bytes)

    def contractions_per_pass(self, d: int, degrees: int, squared: bool = False,
                              n_batches: int = moments.MomentSpec.n_batches) -> int:
        """Contraction vectors, each at ``degrees`` degrees, whose pass sums fit in ``SUMS_SHARE`` (at least 1)."""
        if not degrees:
            return sys.maxsize
        room = SUMS_SHARE * self.bytes / SUMS_COPIES - moments.state_bytes(d, 2 + squared, n_batches)
        return max(1, int(room // moments.state_bytes(d, degrees, n_batches)))

    def pass_jobs(self, spec: moments.MomentSpec) -> int:
        """Threads of a numpy pass over ``spec``: chunks in the chunk share, and the merged
        state with one chunk state per thread in ``SUMS_SHARE``."""
        grams = 2 + len(spec.degrees) * spec.n_directions + spec.squared
        states = int(SUMS_SHARE * self.bytes // moments.state_bytes(spec.d, grams, spec.n_batches))
        return max(1, min(self.jobs, states - 1))


@dataclass
class Data:
    """The source, how its rows are split, and the rows the first pass kept in memory.

    Moment passes stream the training rows of ``source`` through ``engine``; ``X``, ``y`` are
    the training rows kept for fitting (all of them when they fit in the budget ``memory``) and
    ``X_val``, ``y_val`` the held-out rows (selection only). ``low`` is pass 1 (T0, T1, T2 of
    the labels): fits of several widths (``k="auto"``) share it.
    """

    source: Source
    plan: RowPlan
    engine: Engine
    n_train: int
    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    low: moments.Moments = field(repr=False)
    memory: Memory = field(default_factory=Memory)

    @property
    def d(self) -> int:
        return self.source.n_features


def scan(source: Source, validation_fraction: float, engine: Engine, report: Report,
         memory: Memory | None = None) -> Data:
    """Pass 1: split the rows (:class:`RowPlan`), keep the in-memory rows, and take T0, T1, T2."""
    memory = memory or Memory()
    d = source.n_features
    plan = RowPlan.for_rows(source.n_rows, validation_fraction, memory.validation_rows(d), memory.kept_rows(d))
    n_val = plan.n_validation()
    if not 0 < n_val < source.n_rows:
        raise ValueError(f"validation_fraction={validation_fraction} holds out {n_val} of {source.n_rows} rows; "
                         "choose it so that both sides get at least one row")
    spec = moments.MomentSpec(d=source.n_features)
    start = time.perf_counter()
    state, sample = engine.run(source, spec, plan, collect=True, memory=memory)
    low = moments.finalize(state, spec)
    report.passes += 1
    report.add("moments", time.perf_counter() - start, degrees=[2], contractions=0, samples=low.n,
               kept_in_memory=len(sample.y), held_out=len(sample.y_val))
    return Data(source, plan, engine, low.n, sample.X, sample.y, sample.X_val, sample.y_val, low, memory)


def moment_pass(data: Data, spec: moments.MomentSpec, report: Report, stage: str) -> moments.Moments:
    """One pass of the moment engine over the training rows, recorded in the report."""
    start = time.perf_counter()
    result = moments.finalize(data.engine.run(data.source, spec, data.plan, memory=data.memory)[0], spec)
    report.passes += 1
    report.add(stage, time.perf_counter() - start, degrees=[2, *spec.degrees],
               contractions=spec.n_directions, samples=result.n)
    return result


def kept_rows(data: Data, limit: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The kept training rows, or ``limit`` of them drawn at random (kept in order)."""
    if len(data.y) <= limit:
        return data.X, data.y
    rows = np.sort(rng.choice(len(data.y), limit, replace=False))
    return data.X[rows], data.y[rows]
