"""Data sources: rows ``(X, y)`` read block by block from memory or from files.

Every engine and every command reads data through a :class:`Source`: it knows its number
of rows and features and returns any block of rows ``read(start, stop)`` as float64 arrays,
so a pass over a file holds one chunk at a time (memory O(chunk * d), independent of the
number of rows). Formats, chosen from the path:

========================  =========================================================
``*.npz``                 arrays ``X`` (n, d) and ``y`` (n,); streamed when stored
                          uncompressed (``np.savez``), read whole when compressed
directory, or ``X.npy``   a directory holding ``X.npy`` and ``y.npy`` (a ``.npy``
                          pair), read by explicit file offsets (no memory map)
``*.csv``                 a header row, feature columns and a target column
                          (``target``, default ``"y"``); blank and ``#`` comment
                          lines skipped, CRLF and quoted cells read (pyarrow)
``*.parquet``, ``*.pq``   the same columns, read in record batches with pyarrow
``*.h5``, ``*.hdf5``      datasets ``X`` and ``y`` (h5py)
``*.zarr``                a group with arrays ``X`` and ``y`` (zarr)
========================  =========================================================

In memory: numpy arrays (:class:`ArraySource`) or dask arrays (:class:`DaskSource`).
Missing files, unknown formats, missing columns, non-numeric or non-finite cells raise
``ValueError`` naming the file, the row (1-based, as a user counts them) and the column; a
format whose reader is not installed raises ``ImportError`` naming the extra to install.
Files are only ever opened for reading.
"""

from __future__ import annotations

import bisect
import csv
import hashlib
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ._validation import check_samples

__all__ = ["Source", "ArraySource", "MappedSource", "DaskSource", "FunctionSource", "open_source", "Writer", "write",
           "FORMATS"]

#: File formats by suffix (a directory is a ``.npy`` pair).
FORMATS = {".npz": "npz", ".npy": "npy", ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
           ".h5": "hdf5", ".hdf5": "hdf5", ".zarr": "zarr"}
#: CSV files are indexed every this many rows for random access (ours).
CSV_INDEX_ROWS = 65536
#: Rows read at each of a few evenly spread places for :meth:`Source.fingerprint` (ours).
FINGERPRINT_ROWS = 64
#: ... at this many places (ours).
FINGERPRINT_PLACES = 8


class Source:
    """Rows ``(X, y)`` with random access by blocks.

    Subclasses set ``name``, ``n_rows``, ``n_features`` and ``columns`` (feature names) and
    implement :meth:`_read`; :meth:`read` adds the checks every source shares.
    """

    name: str = "data"
    n_rows: int
    n_features: int
    columns: list[str]
    target_name: str = "y"
    #: Rows stored together (a Parquet row group): engines align their chunks to multiples of it.
    block_rows: int = 1
    #: False when opened with ``labels=False`` from data without labels (``y`` reads as zeros).
    has_labels: bool = True
    #: True when every cell was checked finite on opening, so that reads skip the check.
    checked: bool = False

    def _read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows ``start:stop`` as float64 arrays, shapes (m, d) and (m,); non-finite cells refused."""
        X, y = self._read(start, stop)
        X = np.asarray(X, dtype=np.float64).reshape(stop - start, self.n_features)
        y = np.asarray(y, dtype=np.float64).reshape(stop - start)
        if self.checked:
            return X, y
        for values, names in ((X, self.columns), (y[:, None], [self.target_name])):
            bad = ~np.isfinite(values)
            if bad.any():
                row, col = np.argwhere(bad)[0]
                raise ValueError(
                    f"{self.name}: row {start + row + 1}, column {names[col]!r} is {values[row, col]} "
                    "(missing or non-finite); remove or impute such rows first"
                )
        return X, y

    def for_pass(self, number: int) -> Source:
        """The source the engine's pass ``number`` reads: the same rows every pass (a
        :class:`FunctionSource` with ``fresh_rows`` draws new ones)."""
        return self

    def fingerprint(self) -> str:
        """A digest of the data's identity: its shape, the size and modification time of the files
        behind it, and the bytes of ``FINGERPRINT_ROWS`` rows at each of a few evenly spread places
        (the first and the last rows included). Checkpoints resume only against the same digest."""
        digest = hashlib.sha256(repr((self.n_rows, self.n_features, self._stamp())).encode())
        for first in np.unique(np.linspace(0, max(0, self.n_rows - FINGERPRINT_ROWS), FINGERPRINT_PLACES).astype(int)):
            for values in self.read(int(first), min(int(first) + FINGERPRINT_ROWS, self.n_rows)):
                digest.update(values.tobytes())
        return digest.hexdigest()

    def _stamp(self) -> list:
        """Size and modification time of each file behind the source (a directory's own files too)."""
        args = getattr(self, "_args", None)
        if not args or not isinstance(args[0], Path):
            return []
        files = [args[0], *sorted(args[0].iterdir())] if args[0].is_dir() else [args[0]]
        return [(str(f), f.stat().st_size, f.stat().st_mtime_ns) for f in files]

    def chunks(self, rows: int, start: int = 0, stop: int | None = None) -> Iterator[tuple]:
        """Yield ``(first_row, X, y)`` for consecutive blocks of at most ``rows`` rows."""
        stop = self.n_rows if stop is None else stop
        for first in range(start, stop, rows):
            yield (first, *self.read(first, min(first + rows, stop)))

    def __reduce__(self):
        # File sources travel as their arguments (path, ...) and reopen where they land, so a
        # Dask worker reads the data where it lives; in-memory sources pickle their arrays.
        args = getattr(self, "_args", None)
        return (type(self), args) if args is not None else super().__reduce__()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, n_rows={self.n_rows}, n_features={self.n_features})"


class ArraySource(Source):
    """In-memory arrays ``X`` (n, d) and ``y`` (n,), checked once."""

    checked = True

    def __init__(self, X, y, name: str = "arrays"):
        self.X, self.y = check_samples(X, y)
        self.name, (self.n_rows, self.n_features) = name, self.X.shape
        self.columns = [f"x{j}" for j in range(self.n_features)]

    def _read(self, start, stop):
        return self.X[start:stop], self.y[start:stop]


class MappedSource(Source):
    """The rows of ``source`` passed through ``transform(X, y) -> (X, y)`` as they are read."""

    def __init__(self, source: Source, transform):
        self.source, self.transform = source, transform
        self.name, self.n_rows, self.n_features = source.name, source.n_rows, source.n_features
        self.columns, self.target_name, self.block_rows = source.columns, source.target_name, source.block_rows

    def _read(self, start, stop):
        return self.transform(*self.source.read(start, stop))

    def for_pass(self, number: int) -> Source:
        inner = self.source.for_pass(number)
        return self if inner is self.source else MappedSource(inner, self.transform)

    def _stamp(self) -> list:
        return self.source._stamp()


class DaskSource(Source):
    """Dask arrays ``X`` (n, d) and ``y`` (n,) (chunked along rows only); blocks are computed on read.

    ``engine="dask"`` maps over the arrays' own blocks instead (see :mod:`narrowrelu.engines`).
    """

    def __init__(self, X, y, name: str = "dask arrays"):
        if X.ndim != 2 or y.ndim != 1 or X.shape[0] != y.shape[0]:
            raise ValueError(f"dask arrays must have shapes (n, d) and (n,), got {X.shape} and {y.shape}")
        if len(X.chunks[1]) != 1:
            raise ValueError("X must be chunked along rows only: use X.rechunk({1: -1})")
        self.X, self.y, self.name = X, y.rechunk((X.chunks[0],)), name
        self.n_rows, self.n_features = (int(s) for s in X.shape)
        self.columns = [f"x{j}" for j in range(self.n_features)]

    def _read(self, start, stop):
        import dask

        return dask.compute(self.X[start:stop], self.y[start:stop], scheduler="sync")


def _npy_header(handle, name: str) -> tuple[tuple[int, ...], np.dtype, int]:
    """Shape, dtype and data offset of a ``.npy`` stream (C order only)."""
    try:
        version = np.lib.format.read_magic(handle)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(handle)
    except ValueError as exc:
        raise ValueError(f"{name}: not a valid .npy array ({exc})") from None
    if fortran and len(shape) > 1:
        raise ValueError(f"{name}: Fortran-ordered arrays cannot be streamed; save with np.ascontiguousarray")
    if dtype.kind not in "fiub":
        raise ValueError(f"{name}: dtype {dtype} is not numeric")
    return shape, dtype, handle.tell()


class _RawArray:
    """A C-ordered array at a byte offset of a file, read by explicit seeks (no memory map)."""

    def __init__(self, path: Path, offset: int, shape, dtype):
        self.path, self.offset, self.shape, self.dtype = path, offset, shape, dtype
        self.row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize

    def rows(self, start: int, stop: int) -> np.ndarray:
        with open(self.path, "rb") as handle:
            handle.seek(self.offset + start * self.row_bytes)
            data = handle.read((stop - start) * self.row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape((stop - start, *self.shape[1:]))


def _pair(name: str, X_shape, y_shape) -> tuple[int, int]:
    if len(X_shape) != 2 or len(y_shape) != 1 or X_shape[0] != y_shape[0]:
        raise ValueError(f"{name}: X must have shape (n, d) and y shape (n,), got {X_shape} and {y_shape}")
    return int(X_shape[0]), int(X_shape[1])


class _ArrayPairSource(Source):
    """Two row-indexable arrays ``X`` and ``y`` (the ``.npy``, ``.npz``, HDF5 and Zarr formats)."""

    def _set(self, name: str, X, y):
        self.name, self._X, self._y, self.has_labels = name, X, y, y is not None
        self.n_rows, self.n_features = _pair(name, X.shape, y.shape if y is not None else X.shape[:1])
        self.columns = [f"x{j}" for j in range(self.n_features)]

    def _read(self, start, stop):
        get = lambda a: a.rows(start, stop) if isinstance(a, _RawArray) else a[start:stop]  # noqa: E731
        return get(self._X), get(self._y) if self.has_labels else np.zeros(stop - start)


class NpySource(_ArrayPairSource):
    """A ``.npy`` pair: a directory with ``X.npy`` and ``y.npy`` (or the path of its ``X.npy``)."""

    def __init__(self, path: Path, labels: bool = True):
        self._args = (path, labels)
        folder = path if path.is_dir() else path.parent
        arrays = []
        for part in ("X", "y"):
            file = folder / f"{part}.npy"
            if part == "y" and not labels and not file.is_file():
                arrays.append(None)
                continue
            if not file.is_file():
                raise ValueError(f"{folder}: a .npy pair needs {part}.npy in that directory")
            with open(file, "rb") as handle:
                shape, dtype, offset = _npy_header(handle, str(file))
            arrays.append(_RawArray(file, offset, shape, dtype))
        self._set(str(folder), *arrays)


class NpzSource(_ArrayPairSource):
    """An ``.npz`` archive with ``X`` and ``y``: members stored uncompressed are streamed."""

    def __init__(self, path: Path, labels: bool = True):
        self._args = (path, labels)
        try:
            archive = zipfile.ZipFile(path)
        except zipfile.BadZipFile:
            raise ValueError(f"{path}: not a valid .npz archive (corrupt or not a zip file)") from None
        with archive:
            arrays = []
            for part in ("X", "y"):
                if part == "y" and not labels and "y.npy" not in archive.namelist():
                    arrays.append(None)
                    continue
                if f"{part}.npy" not in archive.namelist():
                    raise ValueError(f"{path}: the archive has no array {part!r} "
                                     f"(it holds {', '.join(n[:-4] for n in archive.namelist()) or 'nothing'})")
                info = archive.getinfo(f"{part}.npy")
                with archive.open(info) as member:
                    shape, dtype, header = _npy_header(member, f"{path}[{part}]")
                if info.compress_type == zipfile.ZIP_STORED:
                    with open(path, "rb") as handle:  # the local header precedes the member's bytes
                        handle.seek(info.header_offset + 26)
                        lengths = np.frombuffer(handle.read(4), dtype="<u2")
                    start = info.header_offset + 30 + int(lengths.sum()) + header
                    arrays.append(_RawArray(path, start, shape, dtype))
                else:
                    arrays.append(np.load(io.BytesIO(archive.read(info))))
        self._set(str(path), *arrays)


class HDF5Source(_ArrayPairSource):
    """An HDF5 file with datasets ``X`` and ``y`` (needs ``h5py``)."""

    def __init__(self, path: Path, labels: bool = True):
        self._args = (path, labels)
        h5py = _optional("h5py", "HDF5")
        try:
            self._file = h5py.File(path, "r")
        except OSError as exc:
            raise ValueError(f"{path}: not a readable HDF5 file ({exc})") from None
        missing = [p for p in ("X", "y")[: 1 + labels] if p not in self._file]
        if missing:
            raise ValueError(f"{path}: no dataset {missing[0]!r} (it holds {', '.join(self._file) or 'nothing'})")
        self._set(str(path), self._file["X"], self._file["y"] if "y" in self._file else None)


class ZarrSource(_ArrayPairSource):
    """A Zarr group with arrays ``X`` and ``y`` (needs ``zarr``)."""

    def __init__(self, path: Path, labels: bool = True):
        self._args = (path, labels)
        zarr = _optional("zarr", "Zarr")
        try:
            group = zarr.open_group(str(path), mode="r")
            self._set(str(path), group["X"], group["y"] if labels or "y" in group else None)
        except (KeyError, FileNotFoundError, ValueError, TypeError) as exc:
            raise ValueError(f"{path}: not a Zarr group with arrays 'X' and 'y' ({exc})") from None


class _ColumnSource(Source):
    """Tables (CSV, Parquet): every column but the target is a feature."""

    def _columns(self, name: str, header: list[str], target: str, labels: bool) -> None:
        self.name, self.target_name, self.has_labels = name, target, target in header
        if labels and not self.has_labels:
            raise ValueError(f"{name}: no target column {target!r} (columns: {', '.join(header)}); "
                             "name it with --target / target=")
        self.target_index = header.index(target) if self.has_labels else len(header)
        self.columns = [c for c in header if c != target]
        self.n_features = len(self.columns)
        if self.n_features == 0:
            raise ValueError(f"{name}: no feature columns besides the target {target!r}")


class CSVSource(_ColumnSource):
    """A CSV file with a header row, parsed by pyarrow (needs the ``io`` extra).

    Blank lines and comment lines (first non-blank character ``#``) are skipped, lines may end
    in CRLF and cells may be quoted. The file is indexed once, streamed in blocks of
    ``CSV_BLOCK_BYTES``: the byte offset and line number of every ``CSV_INDEX_ROWS``-th row, found
    by a vectorised scan that tracks quotes (a newline inside a quoted cell ends no row).
    """

    def __init__(self, path: Path, target: str = "y", labels: bool = True):
        self._args = (path, target, labels)
        _optional("pyarrow.csv", "CSV")
        self.path, self._offsets, self._lines, header, rows = path, [], [], None, 0
        with open(path, "rb") as handle:
            for offset, data, starts, ends, lines, kept in _records(handle):
                found = np.flatnonzero(kept)
                if header is None and len(found):
                    header, found = _cells(data[starts[found[0]]:ends[found[0]]]), found[1:]
                index = found[(np.arange(len(found)) + rows) % CSV_INDEX_ROWS == 0]
                self._offsets += [offset + int(a) for a in starts[index]]
                self._lines += [int(a) for a in lines[index]]
                rows += len(found)
        if header is None:
            raise ValueError(f"{path}: empty CSV file (no header row)")
        self._header = [c.strip() for c in header]
        self._header[0] = self._header[0].removeprefix("\ufeff")  # a byte-order mark, as spreadsheets write
        self._columns(str(path), self._header, target, labels)
        self.n_rows, self._offsets = rows, self._offsets + [path.stat().st_size]

    def _read(self, start, stop):
        import pyarrow as pa
        import pyarrow.csv as pcsv

        base = start // CSV_INDEX_ROWS
        end = self._offsets[min(-(-stop // CSV_INDEX_ROWS), len(self._offsets) - 1)]
        with open(self.path, "rb") as handle:
            handle.seek(self._offsets[base])
            block = io.BytesIO(handle.read(end - self._offsets[base]))
        pieces, where, skip, wanted = [], [], start - base * CSV_INDEX_ROWS, stop - start
        for _, data, starts, ends, lines, kept in _records(block, self._lines[base]):
            rows = np.flatnonzero(kept)[skip:skip + wanted - len(where)]
            skip = max(0, skip - int(kept.sum()))
            mark = np.zeros(len(data) + 1, dtype=np.int8)  # the chosen records, each with its line end
            np.add.at(mark, starts[rows], 1)
            np.add.at(mark, np.minimum(ends[rows] + 1, len(data)), -1)
            pieces.append(data[np.cumsum(mark[:-1]) > 0].tobytes() + b"\n")
            where += [(data[starts[r]:ends[r]], int(lines[r])) for r in rows]
        names = [f"c{j}" for j in range(len(self._header))]  # positional: header names may repeat
        try:
            table = pcsv.read_csv(
                io.BytesIO(b"".join(pieces)), read_options=pcsv.ReadOptions(column_names=names, use_threads=False),
                parse_options=pcsv.ParseOptions(newlines_in_values=True),
                convert_options=pcsv.ConvertOptions(column_types=dict.fromkeys(names, pa.float64())))
        except pa.ArrowInvalid as exc:
            self._locate(where, start)
            raise ValueError(f"{self.name}: rows {start + 1} to {stop} could not be read ({exc})") from None
        if table.num_rows != stop - start:
            raise ValueError(f"{self.name}: {table.num_rows} rows read where {stop - start} were indexed; "
                             "was the file changed while it was read?")
        table = np.column_stack([c.to_numpy(zero_copy_only=False) for c in table.columns])
        if not self.has_labels:
            return table, np.zeros(len(table))
        return np.delete(table, self.target_index, axis=1), table[:, self.target_index]

    def _locate(self, records: list, start: int) -> None:
        """Raise the ``ValueError`` naming the first row (and line) and column that pyarrow refused."""
        for i, (record, line) in enumerate(records):
            where, cells = f"{self.name}: row {start + i + 1}", _cells(record)
            if len(cells) != len(self._header):
                raise ValueError(f"{where} has {len(cells)} cells, the header has {len(self._header)} (line {line})")
            for name, cell in zip(self._header, cells, strict=True):
                try:
                    float(cell)
                except ValueError:
                    raise ValueError(f"{where}, column {name!r}: {cell.strip()!r} is not a number (line {line}); "
                                     "every cell must be numeric") from None


#: CSV files are scanned in blocks of this many bytes (ours).
CSV_BLOCK_BYTES = 1 << 22


def _cells(record: np.ndarray) -> list[str]:
    """The cells of one CSV record (bytes without the line end), quotes resolved."""
    return next(csv.reader([record.tobytes().decode("utf-8", "replace").rstrip("\r")]), [])


def _records(handle, line: int = 1):
    """The records of a CSV stream, a block of whole records at a time.

    Yields ``(offset, data, starts, ends, lines, kept)``: ``data`` (uint8) holds whole records
    and starts at byte ``offset`` of the stream; record ``i`` is ``data[starts[i]:ends[i]]`` (its
    line end excluded) and starts on line ``lines[i]`` (1-based, ``line`` being the first);
    ``kept`` is False for blank and comment lines. A newline ends a record unless it is inside
    quotes (an odd number of ``"`` before it in the block: every block starts at a record).
    """
    offset, carry = 0, b""
    while True:
        chunk = handle.read(CSV_BLOCK_BYTES)
        data = np.frombuffer(carry + chunk, dtype=np.uint8)
        newline = data == 10
        ends = np.flatnonzero(newline & (np.cumsum(data == 34, dtype=np.uint8) & 1 == 0))  # parity survives the wrap
        if not chunk and len(data) and (not len(ends) or ends[-1] < len(data) - 1):
            ends = np.append(ends, len(data))  # the last record may lack its line end
        if len(ends):
            size = min(int(ends[-1]) + 1, len(data))
            data, carry, newline = data[:size], (carry + chunk)[size:], newline[:size]
            starts = np.r_[0, ends[:-1] + 1]
            solid = np.flatnonzero(~np.isin(data, (9, 10, 13, 32)))  # first non-blank byte of each record
            first = np.searchsorted(solid, starts)
            has = first < len(solid)
            has[has] = solid[first[has]] < ends[has]
            kept = has.copy()
            kept[has] = data[solid[first[has]]] != 35  # '#': a comment line
            before = np.cumsum(newline) - newline
            yield offset, data, starts, ends, line + before[np.minimum(starts, size - 1)], kept
            offset, line = offset + size, line + int(np.count_nonzero(newline))
        else:
            carry += chunk
        if not chunk:
            return


class ParquetSource(_ColumnSource):
    """A Parquet file, read a record batch at a time within its row groups (needs ``pyarrow``)."""

    def __init__(self, path: Path, target: str = "y", labels: bool = True):
        self._args = (path, target, labels)
        pq = _optional("pyarrow.parquet", "Parquet")
        import pyarrow as pa

        try:
            parquet = pq.ParquetFile(path)
        except (OSError, pa.ArrowException) as exc:
            raise ValueError(f"{path}: not a readable Parquet file ({exc})") from None
        schema = parquet.schema_arrow
        self._columns(str(path), schema.names, target, labels)
        for field in schema:
            if not (pa.types.is_integer(field.type) or pa.types.is_floating(field.type)):
                raise ValueError(f"{path}: column {field.name!r} has type {field.type}, not a number")
        meta = parquet.metadata  # every read opens its own reader: engine threads read concurrently
        self.n_rows = meta.num_rows
        self._starts = list(np.cumsum([0] + [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]))
        self.block_rows = max(1, meta.row_group(0).num_rows) if meta.num_row_groups else 1

    def _read(self, start, stop):
        import pyarrow as pa
        import pyarrow.parquet as pq

        reader = pq.ParquetFile(self._args[0])
        parts, names = [], [*self.columns, *[self.target_name] * self.has_labels]
        group = bisect.bisect_right(self._starts, start) - 1
        while start < stop:
            first, last = self._starts[group], self._starts[group + 1]
            offset = first
            for batch in reader.iter_batches(batch_size=65536, row_groups=[group], columns=names):
                lo, hi = max(start, offset), min(stop, offset + batch.num_rows)
                if lo < hi:
                    parts.append(np.column_stack([c.to_numpy(zero_copy_only=False) for c in
                                                  batch.slice(lo - offset, hi - lo).columns]))
                offset += batch.num_rows
                if offset >= stop:
                    break
            start, group = last, group + 1
        table = np.concatenate(parts) if parts else np.zeros((0, len(names)))
        pa.default_memory_pool().release_unused()  # return decoded pages now: memory stays O(chunk)
        return (table[:, :-1], table[:, -1]) if self.has_labels else (table, np.zeros(len(table)))


def _optional(module: str, what: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        package = module.split(".")[0]
        raise ImportError(f"reading or writing {what} files needs {package}: pip install 'narrowrelu[io]'") from None


def _format(path: Path) -> str:
    if path.suffix.lower() in FORMATS:
        return FORMATS[path.suffix.lower()]
    if path.is_dir() or path.suffix == "":
        return "npy"
    raise ValueError(f"{path}: unknown data format {path.suffix!r}; use one of "
                     f"{', '.join(sorted(FORMATS))} or a directory with X.npy and y.npy")


def open_source(data, y=None, *, target: str = "y", labels: bool = True, d: int | None = None,
                n_rows: int | None = None, random_state=None) -> Source:
    """A :class:`Source` for a path, a ``(X, y)`` pair of numpy or dask arrays, or a source itself.

    A model one can call (a callable, a torch module, an ``.onnx`` path, ``"module:function"``)
    becomes a :class:`FunctionSource` of ``n_rows`` Gaussian rows seeded by ``random_state``.

    With ``labels=False`` a file without labels is accepted (for prediction): ``y`` reads as
    zeros and ``source.has_labels`` is False.

    Examples
    --------
    >>> import numpy as np
    >>> source = open_source(np.zeros((5, 3)), np.ones(5))
    >>> source.n_rows, source.n_features
    (5, 3)
    """
    if isinstance(data, Source):
        return data
    from .oracles import is_oracle

    if y is None and is_oracle(data):
        return FunctionSource(data, d, n_rows, random_state)
    if isinstance(data, str | Path):
        path = Path(data)
        kind = _format(path)
        if not path.exists():
            raise ValueError(f"{path}: no such file or directory")
        if kind in ("csv", "parquet"):
            return {"csv": CSVSource, "parquet": ParquetSource}[kind](path, target, labels)
        if kind == "npy" and path.is_file() and path.suffix == "":
            raise ValueError(f"{path}: unknown data format (no suffix)")
        return {"npz": NpzSource, "npy": NpySource, "hdf5": HDF5Source, "zarr": ZarrSource}[kind](path, labels)
    if y is None and not labels:
        y = np.zeros(len(data))
    if y is None:
        raise ValueError("give the labels y with the inputs X, or a path to a data file")
    if type(data).__module__.startswith("dask"):
        return DaskSource(data, y)
    return ArraySource(data, y)


class Writer:
    """Rows written block by block to ``path`` in the format its suffix names.

    ``n`` rows of ``d`` features are announced up front (so that ``.npy``, HDF5 and Zarr
    files are laid out once); tables get the columns ``x0 ... x{d-1}`` and ``target``.
    ``dtype`` (float64 or float32) is the type stored; readers return float64. An
    ``.npz`` archive is assembled in memory and written on :meth:`close`; every other format
    streams. Refuses to overwrite an existing path.

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rows.csv"
    >>> with Writer(path, n=2, d=3) as out:
    ...     out.append(np.zeros((2, 3)), np.ones(2))
    >>> open_source(path).read(0, 2)[1]
    array([1., 1.])
    """

    def __init__(self, path, n: int, d: int, *, target: str = "y", dtype=np.float64):
        self.path, self.kind, self.n, self.d, self.written = Path(path), _format(Path(path)), n, d, 0
        self.dtype = np.dtype(dtype).newbyteorder("<")
        if self.dtype.kind != "f":
            raise ValueError(f"dtype must be a floating type (float32 or float64), got {dtype}")
        if self.path.exists():
            raise ValueError(f"{self.path} already exists; choose another output path (files are never overwritten)")
        names = [*(f"x{j}" for j in range(d)), target]
        if self.kind == "npz":
            self._parts = []
        elif self.kind == "npy":
            if self.path.suffix:
                raise ValueError(f"{self.path}: a .npy pair is written to a directory; give a path without a suffix")
            self.path.mkdir(parents=True)
            self._files = []
            for part, shape in (("X", (n, d)), ("y", (n,))):
                handle = open(self.path / f"{part}.npy", "wb")
                np.lib.format.write_array_header_1_0(handle, {"descr": self.dtype.str, "fortran_order": False,
                                                              "shape": shape})
                self._files.append(handle)
        elif self.kind == "csv":
            self._handle = open(self.path, "w")
            self._handle.write(",".join(names) + "\n")
        elif self.kind == "parquet":
            _optional("pyarrow.parquet", "Parquet")
            import pyarrow as pa
            import pyarrow.parquet as pq

            self._schema = pa.schema([(name, pa.from_numpy_dtype(self.dtype)) for name in names])
            self._handle = pq.ParquetWriter(self.path, self._schema)
        elif self.kind == "hdf5":
            self._handle = _optional("h5py", "HDF5").File(self.path, "w")
            rows = (max(1, min(n, 65536)), d) if n * d else None
            self._X = self._handle.create_dataset("X", (n, d), dtype=self.dtype, chunks=rows)
            self._y = self._handle.create_dataset("y", (n,), dtype=self.dtype)
        else:
            group = _optional("zarr", "Zarr").open_group(str(self.path), mode="w")
            self._X = group.create_array("X", shape=(n, d), chunks=(max(1, min(n, 65536)), d), dtype=self.dtype)
            self._y = group.create_array("y", shape=(n,), chunks=(max(1, min(n, 65536)),), dtype=self.dtype)

    def append(self, X, y) -> None:
        X = np.ascontiguousarray(X, dtype=self.dtype).reshape(-1, self.d)
        y = np.ascontiguousarray(y, dtype=self.dtype).reshape(-1)
        start, stop = self.written, self.written + len(y)
        if stop > self.n or len(X) != len(y):
            raise ValueError(f"{self.path}: {stop} rows written, {self.n} were announced")
        if self.kind == "npz":
            self._parts.append((X, y))
        elif self.kind == "npy":
            self._files[0].write(X.tobytes())
            self._files[1].write(y.tobytes())
        elif self.kind == "csv":
            np.savetxt(self._handle, np.column_stack([X, y]), delimiter=",", fmt="%.17g")
        elif self.kind == "parquet":
            import pyarrow as pa

            table = np.column_stack([X, y])
            self._handle.write_table(pa.table({n: table[:, j] for j, n in enumerate(self._schema.names)},
                                              schema=self._schema))
        else:
            self._X[start:stop] = X
            self._y[start:stop] = y
        self.written = stop

    def close(self) -> None:
        if self.kind == "npz":
            X = np.concatenate([p[0] for p in self._parts]) if self._parts else np.zeros((0, self.d), self.dtype)
            y = np.concatenate([p[1] for p in self._parts]) if self._parts else np.zeros(0, self.dtype)
            np.savez(self.path, X=X, y=y)
        for handle in getattr(self, "_files", []) + [getattr(self, "_handle", None)]:
            if handle is not None:
                handle.close()
        if self.written != self.n:
            raise ValueError(f"{self.path}: {self.written} rows written, {self.n} were announced")

    def __enter__(self) -> Writer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write(path, X, y, *, target: str = "y") -> Path:
    """Write ``X`` (n, d) and ``y`` (n,) to ``path`` (see :class:`Writer`)."""
    X = np.asarray(X, dtype=np.float64)
    with Writer(path, len(X), X.shape[1], target=target) as out:
        out.append(X, y)
    return Path(path)


from .function_source import FunctionSource  # noqa: E402  (a model one can call, see its module)
