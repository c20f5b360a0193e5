"""Engines: one pass of the moment accumulator over a :class:`~narrowrelu.sources.Source`.

A pass is a sum over rows, so it distributes exactly: every engine cuts the rows into
chunks, runs the same chunk function (:func:`chunk_pass`: read, split, :func:`moments.update_in_place`)
on each, and adds the states with :func:`moments.merge`.

- ``"numpy"``: ``n_jobs`` threads on this machine, BLAS pinned to one thread while they run
  (multi-threaded OpenBLAS is up to 140x slower on these tall-skinny products,
  docs/engineering.md). Chunk rows come from a memory budget, never from the number of
  threads, and the chunks' sums are merged in chunk order: the result is bit for bit the
  same for every ``n_jobs``. Optional checkpoints (every ``checkpoint_every`` rounds of
  ``n_jobs`` chunks) and ``resume``: the merged state is saved as it is, so a resumed pass
  gives the identical result, on any number of cores.
- ``"torch"``: the same chunk function on torch tensors (one kernel, written against the
  array API), on a GPU when present, float64 wherever the device has it; the next chunk is
  read while the current one is on the device.
- ``"dask"``: one task per chunk on a Dask cluster (a ``LocalCluster`` of ``workers``
  processes, or the scheduler at ``scheduler``), tree-reduced. File sources travel as their
  path and are read where the task runs; dask arrays are mapped block by block.

Other sums over the training rows use the same chunks: :meth:`Engine.reduce` adds the tuples of
arrays a chunk function returns (the Gauss-Newton systems of :mod:`narrowrelu.streamed`).

Rows are split once and for all by :class:`RowPlan`: validation rows (runs of consecutive
rows spread evenly over the data) never enter the moments, and a deterministic, evenly spread
subset of the training rows is kept in memory for fitting.
"""

from __future__ import annotations

import hashlib
import zipfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from . import moments
from ._arrays import ordered_map, single_blas_thread, take
from .sources import DaskSource, Source

if TYPE_CHECKING:
    from .pipeline import Memory

__all__ = ["RowPlan", "Sample", "Engine", "ENGINES", "chunk_pass"]

ENGINES = ("numpy", "torch", "dask")


def _spread(start: int, stop: int, share: float, run: int, phase: float) -> np.ndarray:
    """Rows of ``start:stop`` in the runs ``j`` (of ``run`` rows) with ``floor((j+1)s+p) > floor(js+p)``:
    a share ``s`` of the runs, spread evenly over the data."""
    j = np.arange(start, stop) // run
    return np.floor((j + 1) * share + phase) > np.floor(j * share + phase)


@dataclass(frozen=True)
class RowPlan:
    """Which rows validate, which train, and which training rows are kept in memory.

    Attributes
    ----------
    n : int
        Rows in the source.
    validation_share : float
        Share of the runs of ``run`` consecutive rows held out for validation.
    keep_share : float
        Share of the rows kept in memory for fitting (validation rows excepted).
    run : int
        Length of the validation runs.
    """

    n: int
    validation_share: float
    keep_share: float
    run: int

    @classmethod
    def for_rows(cls, n: int, validation_fraction: float, max_validation: int, max_kept: int) -> RowPlan:
        share = min(validation_fraction, max_validation / n)
        return cls(n, share, min(1.0, max_kept / max(1.0, n * (1 - share))), max(1, min(4096, n // 200)))

    def validation(self, start: int, stop: int) -> np.ndarray:
        return _spread(start, stop, self.validation_share, self.run, 0.5)

    def kept(self, start: int, stop: int) -> np.ndarray:
        return _spread(start, stop, self.keep_share, 1, 0.0) & ~self.validation(start, stop)

    def n_validation(self) -> int:
        return int(self.validation(0, self.n).sum())


@dataclass
class Sample:
    """Rows kept in memory by the first pass: training rows for fitting, and the validation rows."""

    X: np.ndarray
    y: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray

    @staticmethod
    def join(parts: list[Sample]) -> Sample:
        """The parts in order, as one sample; ``parts`` is emptied as they are copied.

        Each array is allocated whole and filled part by part, every part freed once copied:
        the rows are held about once, not twice (a memory budget counts them once).
        """
        joined = {f.name: np.empty((sum(len(getattr(p, f.name)) for p in parts), *getattr(parts[0], f.name).shape[1:]),
                                   dtype=np.result_type(*(getattr(p, f.name) for p in parts)))
                  for f in fields(Sample)}
        offset = dict.fromkeys(joined, 0)
        while parts:
            part = parts.pop(0)
            for name, array in joined.items():
                rows = getattr(part, name)
                array[offset[name]:offset[name] + len(rows)] = rows
                offset[name] += len(rows)
        return Sample(**joined)


def chunk_pass(
    spec: moments.MomentSpec, plan: RowPlan | None, X: np.ndarray, y: np.ndarray, start: int,
    state: moments.MomentState | None = None, collect: bool = False,
) -> tuple[moments.MomentState, Sample | None]:
    """The work of every engine on one chunk of rows ``start:start+len(y)``.

    Adds the training rows into ``state`` (a new one when None) and, with ``collect``, returns
    the chunk's kept and validation rows.
    """
    state = moments.init(spec, X) if state is None else state
    if plan is None:
        moments.update_in_place(state, spec, X, y, start)
        return state, None
    n = y.shape[0]
    val = plan.validation(start, start + n)
    train = np.flatnonzero(~val)
    moments.update_in_place(state, spec, X, y, start, train)
    if not collect:
        return state, None
    keep = np.flatnonzero(plan.kept(start, start + n))
    val = np.flatnonzero(val)
    return state, Sample(*(_host(take(a, rows)) for a, rows in ((X, keep), (y, keep), (X, val), (y, val))))


def _host(array) -> np.ndarray:
    return array if isinstance(array, np.ndarray) else np.asarray(array.cpu())


@dataclass
class Engine:
    """Runs passes of the accumulator over sources; holds the cluster when ``name="dask"``.

    Parameters
    ----------
    name : {'numpy', 'torch', 'dask'}
    n_jobs : int or None
        Threads of the numpy engine (default: the cores available). Results do not depend on it.
    chunk_rows : int or None
        Rows per chunk (default: from ``moments.DEFAULT_CHUNK_BYTES`` of temporaries).
    workers : int or None
        Processes of the ``LocalCluster`` the dask engine starts when no ``scheduler`` is given.
    scheduler : str or None
        Address of a running Dask scheduler, e.g. ``"tcp://10.0.0.1:8786"``.
    device : str or None
        Torch device of the torch engine (default: ``"cuda"`` when available, else ``"cpu"``).
    checkpoint : path or None
        Directory for the numpy engine's checkpoints (one file per pass).
    checkpoint_every : int, default=1
        Rounds of ``n_jobs`` chunks between checkpoints: with 1, a killed pass loses only the
        chunks in flight.
    resume : bool
        Continue from the checkpoints in ``checkpoint`` (they must come from the same data,
        settings and seed; otherwise the pass is refused).
    progress : callable ``(label) -> callable(done_rows, total_rows)`` or None

    Attributes
    ----------
    passes : int
        Passes run in the current :meth:`session` (one ``learn`` call); checkpoint files are
        named after it (``pass-1.npz``, ...), so they do not depend on earlier calls.
    """

    name: str = "numpy"
    n_jobs: int | None = None
    chunk_rows: int | None = None
    workers: int | None = None
    scheduler: str | None = None
    device: str | None = None
    checkpoint: str | Path | None = None
    checkpoint_every: int = 1
    resume: bool = False
    progress: Callable | None = None
    passes: int = field(default=0, init=False)
    _client: object = field(default=None, init=False, repr=False)
    _cluster: object = field(default=None, init=False, repr=False)

    def __post_init__(self):
        if self.name not in ENGINES:
            raise ValueError(f"unknown engine {self.name!r}; expected one of {', '.join(ENGINES)}")
        if self.resume and self.checkpoint is None:
            raise ValueError("resume needs the checkpoint directory of the interrupted run")
        if self.checkpoint is not None and self.name != "numpy":
            raise ValueError("checkpoints are written by the numpy engine only")

    def __enter__(self) -> Engine:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        for resource in (self._client, self._cluster):
            if resource is not None:
                resource.close()
        self._client = self._cluster = None

    @contextmanager
    def session(self, close: bool = False):
        """One fit: passes counted from 0 (checkpoints ``pass-1.npz``, ...); closed at the end only with ``close``.

        ``learn`` closes the engines it creates, never one its caller passed in (whose Dask
        cluster, say, serves the next fit too).
        """
        self.passes = 0
        try:
            yield self
        finally:
            if close:
                self.close()

    def run(self, source: Source, spec: moments.MomentSpec, plan: RowPlan | None = None,
            collect: bool = False, memory: Memory | None = None) -> tuple[moments.MomentState, Sample | None]:
        """One pass: the merged state of the training rows (and the kept rows with ``collect``).

        With a budget ``memory`` (:class:`~narrowrelu.pipeline.Memory`), chunks have its chunk
        size and the numpy engine runs at most its ``pass_jobs(spec)`` threads.
        """
        self.passes += 1
        source = source if collect else source.for_pass(self.passes)  # the kept and held-out rows are pass 1's
        rows = self.chunk_rows or moments.chunk_rows(spec, *(() if memory is None else (memory.chunk_bytes,)))
        ranges = _ranges(source, rows)
        if self.name == "numpy":
            jobs = None if memory is None else memory.pass_jobs(spec)
            result = self._run_numpy(source, spec, plan, collect, ranges, jobs)
        else:
            result = {"torch": self._run_torch, "dask": self._run_dask}[self.name](source, spec, plan, collect, ranges)
        release_freed_memory()
        return result

    def reduce(self, source: Source, plan: RowPlan | None, function: Callable, row_bytes: int,
               memory: Memory | None = None) -> tuple[np.ndarray, ...]:
        r"""One pass of a mergeable chunk reduction: :math:`\sum_c` ``function(X_c, y_c)`` over the chunks.

        ``function(X, y)`` maps a chunk's training rows (validation rows of ``plan`` left out) to
        a tuple of arrays, added entry by entry over the chunks (a Gauss-Newton system,
        :mod:`narrowrelu.streamed`, say). Chunks hold ``chunk_bytes // row_bytes`` rows (the
        budget's ``chunk_bytes``, or ``moments.DEFAULT_CHUNK_BYTES``; never the number of cores),
        BLAS runs one thread per chunk, and the sums are added in a fixed order: chunk order on
        the numpy engine (whatever ``n_jobs``; at most the budget's ``jobs`` threads), a binary
        tree in row order on Dask (one task per chunk, or per block of a dask array). The torch
        engine runs reductions on the host, as the numpy engine with one thread. ``function``
        must pickle for Dask (a module-level function or a dataclass instance).
        """
        self.passes += 1
        source = source.for_pass(self.passes)
        budget = moments.DEFAULT_CHUNK_BYTES if memory is None else memory.chunk_bytes
        ranges = _ranges(source, self.chunk_rows or max(1, budget // max(1, row_bytes)))
        report = self.progress(f"pass {self.passes}") if self.progress else None
        if self.name == "dask":
            total = self._reduce_dask(source, plan, function, ranges)
        else:
            jobs = 1 if self.name == "torch" else self.n_jobs or moments.default_n_jobs()
            jobs = max(1, min(jobs, memory.jobs if memory is not None else jobs, len(ranges)))
            total = None
            for first in range(0, len(ranges), jobs):
                chunks = ranges[first:first + jobs]
                parts = ordered_map(lambda r: _reduce_range(source, plan, function, *r), chunks, jobs)
                for part in parts:  # added in chunk order: no n_jobs in the sums
                    total = _add(total, part)
                if report:
                    report(chunks[-1][1], source.n_rows)
        if report and self.name == "dask":
            report(source.n_rows, source.n_rows)
        release_freed_memory()
        return total

    def _reduce_dask(self, source, plan, function, ranges):
        return self._dask_tree(source, ranges, partial(_reduce_rows, plan, function),
                               partial(_reduce_range, source, plan, function, pin=True), _add)

    def _dask_tree(self, source, ranges, on_block, on_range, add):
        """``on_block(X, y, start)`` per Dask chunk of a :class:`DaskSource` (else ``on_range(start,
        stop)`` per row range) on the workers, added by ``add`` as a binary tree in row order."""
        import dask

        client = self._dask_client()
        if isinstance(source, DaskSource):
            starts = np.cumsum((0,) + source.X.chunks[0][:-1])
            leaves = [dask.delayed(on_block)(Xb, yb, int(a)) for Xb, yb, a in
                      zip(source.X.to_delayed().ravel(), source.y.to_delayed().ravel(), starts, strict=True)]
        else:
            leaves = [dask.delayed(on_range)(a, b) for a, b in ranges]
        while len(leaves) > 1:
            leaves = [dask.delayed(add)(*leaves[i:i + 2]) if i + 1 < len(leaves) else leaves[i]
                      for i in range(0, len(leaves), 2)]
        return client.compute(leaves[0]).result()

    # -- numpy ------------------------------------------------------------------------------

    def _run_numpy(self, source, spec, plan, collect, ranges, max_jobs: int | None):
        jobs = max(1, min(self.n_jobs or moments.default_n_jobs(), max_jobs or len(ranges), len(ranges)))
        state, parts = moments.init(spec), []
        first, row_files = 0, []
        file, digest = self._checkpoint_file(source, spec, plan, ranges)
        if file is not None and self.resume and file.exists():
            first, state, parts, row_files = _load(file)
        written = len(parts)
        report = self.progress(f"pass {self.passes}") if self.progress else None

        def one(i: int) -> tuple[moments.MomentState, Sample | None]:
            X, y = source.read(*ranges[i])
            return chunk_pass(spec, plan, X, y, ranges[i][0], None, collect)

        for round_start in range(first, len(ranges), jobs):
            chunks = range(round_start, min(round_start + jobs, len(ranges)))
            for chunk, part in ordered_map(one, chunks, jobs):  # merged in chunk order: no n_jobs in the sums
                moments.merge_into(state, chunk)
                parts += [part] if part is not None else []
            chunk = part = None  # the round's chunk states are freed before the next round reads
            done = chunks[-1] + 1
            if file is not None and ((done // jobs) % self.checkpoint_every == 0 or done == len(ranges)):
                _save(file, digest, done, state, parts[written:], row_files)
                written = len(parts)
            if report:
                report(ranges[done - 1][1], source.n_rows)
        return state, Sample.join(parts) if collect else None

    def _checkpoint_file(self, source, spec, plan, ranges) -> tuple[Path | None, str]:
        """This pass's checkpoint file and the digest of what it depends on (the data's identity, settings, spec)."""
        if self.checkpoint is None:
            return None, ""
        digest = hashlib.sha256(repr((source.name, source.n_rows, source.n_features, plan, len(ranges),
                                      ranges[0], spec.degrees, spec.n_batches, spec.batch_rows)).encode())
        digest.update(source.fingerprint().encode())
        for value in (spec.directions, *_numbers(spec.residual)):
            digest.update(np.asarray(value, dtype=np.float64).tobytes())
        folder = Path(self.checkpoint)
        folder.mkdir(parents=True, exist_ok=True)
        file = folder / f"pass-{self.passes}.npz"
        if self.resume and file.exists() and _saved_digest(file) != digest.hexdigest():
            raise ValueError(f"{file} was written for other data or settings; resume with the same data "
                             "(unchanged since), method, options and seed, or start without --resume")
        return file, digest.hexdigest()

    # -- torch ------------------------------------------------------------------------------

    def _run_torch(self, source, spec, plan, collect, ranges):
        try:
            import torch
        except ImportError:
            raise ValueError('engine="torch" needs torch: pip install "narrowrelu[torch]"') from None
        device = torch.device(self.device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = torch.float32 if device.type == "mps" else torch.float64  # float64 wherever the device has it
        state, parts = moments.init(spec, torch.zeros((), dtype=dtype, device=device)), []
        report = self.progress(f"pass {self.passes}") if self.progress else None
        with ThreadPoolExecutor(1) as reader:  # the next chunk is read while this one is on the device
            pending = reader.submit(source.read, *ranges[0])
            for i, (start, stop) in enumerate(ranges):
                X, y = pending.result()
                if i + 1 < len(ranges):
                    pending = reader.submit(source.read, *ranges[i + 1])
                X, y = (torch.from_numpy(a).to(device=device, dtype=dtype) for a in (X, y))
                part = chunk_pass(spec, plan, X, y, start, state, collect)[1]
                parts += [part] if part is not None else []
                if report:
                    report(stop, source.n_rows)
        return moments.to_numpy(state), Sample.join(parts) if collect else None

    # -- dask -------------------------------------------------------------------------------

    def _dask_client(self):
        if self._client is None:
            try:
                from distributed import Client, LocalCluster
            except ImportError:
                raise ValueError("engine='dask' needs dask and distributed: pip install 'narrowrelu[dask]'") from None
            if self.scheduler:
                self._client = Client(self.scheduler)
            else:
                self._cluster = LocalCluster(n_workers=self.workers or 2, threads_per_worker=1,
                                             processes=True, dashboard_address=None)
                self._client = Client(self._cluster)
        return self._client

    def _run_dask(self, source, spec, plan, collect, ranges):
        state, parts = self._dask_tree(source, ranges, partial(_block, spec, plan, collect=collect),
                                       partial(_read_block, source, spec, plan, collect=collect), _combine)
        if self.progress:
            self.progress(f"pass {self.passes}")(source.n_rows, source.n_rows)
        return state, Sample.join(parts) if collect else None


def release_freed_memory() -> None:
    """Return the heap's free pages to the system after a pass (glibc's ``malloc_trim``, as Dask's
    workers do; nothing elsewhere): a pass frees its chunk temporaries, which the allocator
    otherwise keeps, so that resident memory would exceed the budget by their fragments."""
    libc = _glibc()
    if libc is not None:
        libc.malloc_trim(0)


@cache
def _glibc():
    """The C library when it is glibc (looked up at the first pass, not at import), else None."""
    import ctypes
    import ctypes.util
    import platform

    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:  # pragma: no cover - no C library to load
        return None


def _ranges(source: Source, rows: int) -> list[tuple[int, int]]:
    """The chunks ``(start, stop)`` of a pass: ``rows`` rows each (whole row groups of the source)."""
    if source.block_rows > 1:  # whole row groups per chunk: none is decoded twice
        rows = max(1, round(rows / source.block_rows)) * source.block_rows
    ranges = [(a, min(a + rows, source.n_rows)) for a in range(0, source.n_rows, rows)]
    if not ranges:
        raise ValueError(f"{source.name}: the data source has no rows")
    return ranges


def _reduce_rows(plan, function, X, y, start, pin: bool = True):
    """``function`` on the training rows of the chunk ``X, y`` starting at row ``start`` (BLAS: one thread)."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if plan is not None:
        train = np.flatnonzero(~plan.validation(start, start + len(y)))
        X, y = np.take(X, train, axis=0), y[train]
    if not pin:
        return function(X, y)
    with single_blas_thread():
        return function(X, y)


def _reduce_range(source, plan, function, start, stop, pin: bool = False):
    return _reduce_rows(plan, function, *source.read(start, stop), start, pin)


def _add(a, b=None):
    """The entrywise sum of two tuples of arrays (``a`` alone when ``b`` is None, or ``b`` when ``a`` is)."""
    if a is None or b is None:
        return b if a is None else a
    return tuple(x + y for x, y in zip(a, b, strict=True))


def _block(spec, plan, X, y, start, collect):
    with single_blas_thread():
        state, part = chunk_pass(spec, plan, X, y, start, None, collect)
    return state, [part] if part is not None else []


def _read_block(source, spec, plan, start, stop, collect):
    return _block(spec, plan, *source.read(start, stop), start, collect)


def _combine(a, b=None):
    return a if b is None else (moments.merge(a[0], b[0]), a[1] + b[1])


def _numbers(model) -> list:
    """The numbers of a residual model, models inside it included: a checkpoint's digest hashes
    these only (a network's report, say, has no stable bytes)."""
    if model is None:
        return []
    found = []
    for value in vars(model).values():
        if isinstance(value, np.ndarray | float | int):
            found.append(value)
        elif hasattr(value, "predict"):
            found += _numbers(value)
    return found


def _save(file: Path, digest: str, done: int, state, new_parts: list, row_files: list[str]) -> None:
    """Checkpoint: the merged state, and the kept rows collected since the last checkpoint
    in a file of their own (each kept row is written once, not at every checkpoint)."""
    if new_parts:
        rows = file.with_name(f"{file.stem}.rows-{done}.npz")
        joined = Sample.join(new_parts)
        np.savez(rows, **{f.name: getattr(joined, f.name) for f in fields(Sample)})
        row_files.append(rows.name)
    arrays = {f.name: getattr(state, f.name) for f in fields(moments.MomentState)}
    temporary = file.with_suffix(".tmp.npz")
    np.savez(temporary, done=done, digest=digest, row_files=np.array(row_files, dtype=str), **arrays)
    temporary.replace(file)  # atomic: a kill leaves the previous checkpoint whole


@contextmanager
def _checkpoint(file: Path):
    """``np.load(file)``, any failure to read it (truncated, corrupt, not ours) as one clear ``ValueError``."""
    try:
        with np.load(file) as saved:
            yield saved
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{file} is not a readable checkpoint ({type(exc).__name__}: {exc}); delete the "
                         "checkpoint directory's files or start without --resume") from None


def _saved_digest(file: Path) -> str:
    with _checkpoint(file) as saved:
        return str(saved["digest"])


def _load(file: Path):
    """The state of a checkpoint: chunks done, merged state, kept rows, their files."""
    with _checkpoint(file) as saved:
        state = moments.MomentState(**{f.name: saved[f.name] for f in fields(moments.MomentState)})
        done, row_files = int(saved["done"]), [str(n) for n in saved["row_files"]]
    parts = []
    for name in row_files:
        with _checkpoint(file.with_name(name)) as rows:
            parts.append(Sample(*(rows[f.name] for f in fields(Sample))))
    return done, state, parts, row_files
