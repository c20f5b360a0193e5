"""A model one can call as a data source: fresh Gaussian rows ``x ~ N(0, I)`` labelled ``y = f(x)``.

Row block ``i`` (``batch_rows`` rows) is drawn from a generator seeded by ``(seed, i)``, so
a block is the same whoever reads it, in whatever chunks, on whichever engine: memory is
O(chunk) and a Dask worker rebuilds the source from its picklable spec (the model's path or
``"module:function"`` name, see :mod:`narrowrelu.oracles`). Each row read is one query.

With ``fresh_rows=True`` every moment pass draws new rows: the engine asks for
``source.for_pass(p)`` (its p-th pass) on every pass that does not keep rows, and pass p > 1
reads the blocks of ``(seed, p, i)``; the pass that keeps the in-memory and held-out rows, and
pass 1, read those of ``(seed, i)``.
"""

from __future__ import annotations

import numpy as np

from ._validation import RandomState, as_generator, check_positive_int
from .oracles import BATCH_ROWS, as_oracle
from .sources import Source

__all__ = ["FunctionSource"]


class FunctionSource(Source):
    """``n_rows`` rows ``(x, f(x))`` with ``x ~ N(0, I_d)``, generated block by block from a seed.

    Parameters
    ----------
    f : callable, torch.nn.Module, ONNX path or ``"module:function"``
        The model (see :func:`narrowrelu.oracles.as_oracle`).
    d : int or None
        Input dimension (None: from the model).
    n_rows : int
        Rows the source holds.
    random_state : int, Generator, RandomState instance or None, default=None
        Seeds the rows (a Generator or None draws the seed once).
    batch_rows : int
        Rows per generated block: engines align their chunks to it.
    precision : {"float64", "model"}, default="float64"
        How a float32 torch module or ONNX file is queried (see :func:`narrowrelu.oracles.as_oracle`).
    fresh_rows : bool, default=False
        Each moment pass draws new rows (seeded by the pass number: the same rows on every engine)
        instead of re-reading the first pass's. Pass numbers are the engine's (an engine reused
        across fits keeps counting).
    pass_number : int, default=1
        The pass whose rows this source reads (with ``fresh_rows``; set by :meth:`for_pass`).

    Attributes
    ----------
    oracle : :class:`~narrowrelu.oracles.Oracle`
    seed : int
    queries : int
        Rows evaluated by ``f`` in this process.

    Examples
    --------
    >>> import numpy as np
    >>> source = FunctionSource(lambda X: X.sum(axis=1), d=2, n_rows=5, random_state=0)
    >>> X, y = source.read(1, 3)
    >>> bool(np.allclose(y, X.sum(axis=1))), np.array_equal(X, source.read(0, 5)[0][1:3])
    (True, True)
    """

    checked = False

    def __init__(self, f, d: int | None = None, n_rows: int | None = None, random_state: RandomState = None,
                 batch_rows: int = BATCH_ROWS, precision: str = "float64", fresh_rows: bool = False,
                 pass_number: int = 1):
        if n_rows is None:
            raise ValueError("n_rows is required: the number of rows to draw from the model (n=...)")
        self.oracle = as_oracle(f, d, precision=precision)
        self.n_rows, self.block_rows = check_positive_int(n_rows, "n_rows"), check_positive_int(batch_rows,
                                                                                                 "batch_rows")
        generator = as_generator(random_state)  # validates an int seed, draws one otherwise
        self.seed = int(random_state) if isinstance(random_state, int | np.integer) else int(generator.integers(2**63))
        self.n_features, self.name = self.oracle.d, f"queries of {self.oracle.name}"
        self.columns = [f"x{j}" for j in range(self.n_features)]
        self.fresh_rows, self.pass_number = bool(fresh_rows), check_positive_int(pass_number, "pass_number")
        self._args = (self.oracle, self.n_features, self.n_rows, self.seed, self.block_rows, precision,
                      self.fresh_rows, self.pass_number)

    def for_pass(self, number: int) -> FunctionSource:
        """The source read by the engine's pass ``number``: itself, or with ``fresh_rows`` that pass's rows."""
        if not self.fresh_rows or number == self.pass_number:
            return self
        return FunctionSource(self.oracle, *self._args[1:6], True, number)

    @property
    def queries(self) -> int:
        return self.oracle.queries

    def inputs(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start:stop`` of the inputs, block by block from ``(seed, block)`` (pass p > 1 with fresh rows:
        ``(seed, p, block)``)."""
        size, key = self.block_rows, [self.seed] + ([self.pass_number] if self.fresh_rows and self.pass_number > 1
                                                    else [])
        blocks = [np.random.default_rng(key + [i]).standard_normal((size, self.n_features))
                  for i in range(start // size, (stop - 1) // size + 1)] if stop > start else []
        X = np.concatenate(blocks) if blocks else np.zeros((0, self.n_features))
        offset = start - (start // size) * size
        return X[offset:offset + stop - start]

    def _read(self, start, stop):
        X = self.inputs(start, stop)
        return X, self.oracle(X)
