"""Sources and writers: every format round-trips in blocks; bad files give one clear error."""

import hashlib

import numpy as np
import pytest

from narrowrelu import learn, planted, relative_error
from narrowrelu.sources import Writer, open_source, write

FORMATS = ["data.npz", "data_npy", "data.csv", "data.parquet", "data.h5", "data.zarr"]


@pytest.fixture
def rows():
    rng = np.random.default_rng(0)
    return rng.standard_normal((1003, 4)), rng.standard_normal(1003)


@pytest.mark.parametrize("name", FORMATS)
def test_every_format_round_trips_in_blocks(tmp_path, rows, name):
    X, y = rows
    with Writer(tmp_path / name, len(y), X.shape[1]) as out:
        for start in range(0, len(y), 300):  # written in blocks that do not divide n
            out.append(X[start:start + 300], y[start:start + 300])
    source = open_source(tmp_path / name)
    assert (source.n_rows, source.n_features) == X.shape
    blocks = list(source.chunks(170))
    assert [b[0] for b in blocks] == list(range(0, 1003, 170))
    np.testing.assert_array_equal(np.concatenate([b[1] for b in blocks]), X)
    np.testing.assert_array_equal(np.concatenate([b[2] for b in blocks]), y)
    np.testing.assert_array_equal(source.read(517, 519)[0], X[517:519])


def test_compressed_npz_and_npy_file_path(tmp_path, rows):
    X, y = rows
    np.savez_compressed(tmp_path / "c.npz", X=X, y=y)
    np.testing.assert_array_equal(open_source(tmp_path / "c.npz").read(10, 20)[1], y[10:20])
    write(tmp_path / "pair", X, y)
    np.testing.assert_array_equal(open_source(tmp_path / "pair" / "X.npy").read(0, 5)[0], X[:5])


def test_csv_index_spans_many_blocks(tmp_path, monkeypatch):
    import narrowrelu.sources as sources

    monkeypatch.setattr(sources, "CSV_INDEX_ROWS", 7)
    X, y = np.arange(300.0).reshape(100, 3), np.arange(100.0)
    write(tmp_path / "a.csv", X, y)
    source = open_source(tmp_path / "a.csv")
    assert source.n_rows == 100
    np.testing.assert_array_equal(source.read(13, 58)[0], X[13:58])


def test_features_only_files_for_prediction(tmp_path, rows):
    X, _ = rows
    (tmp_path / "f.csv").write_text("a,b\n1,2\n3,4\n")
    source = open_source(tmp_path / "f.csv", labels=False)
    assert not source.has_labels and source.columns == ["a", "b"]
    np.savez(tmp_path / "f.npz", X=X)
    assert open_source(tmp_path / "f.npz", labels=False).read(0, 3)[0].shape == (3, 4)


@pytest.mark.parametrize("content, message", [
    ("x0,x1,y\n1,2,3\n4,abc,6\n", r"row 2, column 'x1': 'abc' is not a number \(line 3\)"),
    ("x0,x1,y\n1,2,3\n4,nan,6\n", r"row 2, column 'x1' is nan"),
    ("x0,x1,y\n1,2,3\n4,,6\n", r"row 2, column 'x1' is nan \(missing"),
    ("x0,x1,y\n1,2,3\n4,5\n", r"row 2 has 2 cells, the header has 3 \(line 3\)"),
])
def test_bad_csv_cells_are_named_by_row_and_column(tmp_path, content, message):
    (tmp_path / "bad.csv").write_text(content)
    with pytest.raises(ValueError, match=message):
        open_source(tmp_path / "bad.csv").read(0, 2)


def test_nan_in_arrays_and_parquet_nulls_are_named(tmp_path, rows):
    X, y = rows
    X = X.copy()
    X[7, 2] = np.nan
    write(tmp_path / "n.npz", X, y)
    with pytest.raises(ValueError, match=r"row 8, column 'x2' is nan"):
        open_source(tmp_path / "n.npz").read(0, 100)
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"x0": [1.0, None], "y": [1.0, 2.0]}), tmp_path / "n.parquet")
    with pytest.raises(ValueError, match=r"row 2, column 'x0' is nan"):
        open_source(tmp_path / "n.parquet").read(0, 2)
    pq.write_table(pa.table({"x0": ["a", "b"], "y": [1.0, 2.0]}), tmp_path / "s.parquet")
    with pytest.raises(ValueError, match=r"column 'x0' has type string, not a number"):
        open_source(tmp_path / "s.parquet")


@pytest.mark.parametrize("name, message", [
    ("missing.csv", "no such file or directory"),
    ("data.txt", "unknown data format '.txt'"),
    ("junk.npz", "not a valid .npz archive"),
    ("junk.parquet", "not a readable Parquet file"),
    ("junk.h5", "not a readable HDF5 file"),
])
def test_missing_unknown_and_corrupt_files(tmp_path, name, message):
    if name.startswith("junk") or name.endswith(".txt"):
        (tmp_path / name).write_text("not data")
    with pytest.raises(ValueError, match=message):
        open_source(tmp_path / name)


def test_missing_target_column_and_arrays(tmp_path, rows):
    X, y = rows
    write(tmp_path / "a.csv", X, y)
    with pytest.raises(ValueError, match=r"no target column 'label' \(columns: x0, x1, x2, x3, y\)"):
        open_source(tmp_path / "a.csv", target="label")
    np.savez(tmp_path / "a.npz", X=X)
    with pytest.raises(ValueError, match=r"no array 'y'"):
        open_source(tmp_path / "a.npz")


def test_outputs_never_overwrite(tmp_path, rows):
    write(tmp_path / "a.npz", *rows)
    with pytest.raises(ValueError, match="already exists"):
        write(tmp_path / "a.npz", *rows)


def test_learning_from_a_file_matches_arrays_and_leaves_the_file_untouched(tmp_path):
    truth = planted.make("random", 6, 2, random_state=0)
    X, y = planted.sample(truth, 20_000, random_state=1)
    write(tmp_path / "d.parquet", X, y)
    before = hashlib.sha256((tmp_path / "d.parquet").read_bytes()).hexdigest()
    from_file = learn(tmp_path / "d.parquet", k=2, random_state=0)
    from_arrays = learn(X, y, 2, random_state=0)
    assert hashlib.sha256((tmp_path / "d.parquet").read_bytes()).hexdigest() == before
    assert relative_error(from_file, from_arrays) <= 1e-8
    assert relative_error(from_file, truth) < 1e-4
    assert from_file.report.options["source"].endswith("d.parquet")


@pytest.mark.parametrize("name", FORMATS)
def test_float32_storage_reads_back_as_float64(tmp_path, rows, name):
    X, y = rows
    with Writer(tmp_path / name, len(y), X.shape[1], dtype=np.float32) as out:
        out.append(X, y)
    back_X, back_y = open_source(tmp_path / name).read(0, len(y))
    assert back_X.dtype == np.float64
    np.testing.assert_array_equal(back_X, X.astype(np.float32).astype(np.float64))
    np.testing.assert_array_equal(back_y, y.astype(np.float32).astype(np.float64))
