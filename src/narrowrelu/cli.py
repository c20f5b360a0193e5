"""The ``narrowrelu`` command line: demo, generate, fit, identify, predict, evaluate, report, export, bench.

Every user mistake exits with status 2 and one line on stderr; ``--debug`` shows the
traceback. A missing optional dependency names the extra that installs it. Warnings are one
line each on stderr, each shown once. The commands themselves live in
:mod:`narrowrelu._commands` (click and rich, the ``cli`` extra).
"""

from __future__ import annotations

import sys
import warnings

#: The extra of ``pyproject.toml`` that installs each optional module.
EXTRAS = {"click": "cli", "rich": "cli", "matplotlib": "cli", "pyarrow": "io", "h5py": "io", "zarr": "io",
          "dask": "dask", "distributed": "dask", "onnx": "onnx", "onnxruntime": "onnx", "sklearn": "sklearn",
          "torch": "torch", "array_api_compat": "torch"}


def _import_message(exc: ImportError) -> str:
    """The message of ``exc``, with the extra to install when it is an optional module's and does not say so."""
    message = str(exc)
    extra = EXTRAS.get((exc.name or "").partition(".")[0])
    if extra and "pip install" not in message:
        message += f": pip install \"narrowrelu[{extra}]\""
    return message


def _one_line_warnings():
    """A ``warnings.showwarning`` that prints each distinct message once, on one line."""
    shown = set()

    def show(message, category, filename, lineno, file=None, line=None):
        text = " ".join(str(message).split())
        if (category, text) not in shown:
            shown.add((category, text))
            print(f"narrowrelu: warning: {text} ({category.__name__})", file=sys.stderr)

    return show


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        import click

        from ._commands import app
    except ImportError as exc:
        print(f"narrowrelu: error: the command line needs click and rich ({exc}): pip install 'narrowrelu[cli]'",
              file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            warnings.showwarning = _one_line_warnings()
            result = app.main(args=argv, prog_name="narrowrelu", standalone_mode=False)
        return result if isinstance(result, int) else 0
    except click.ClickException as exc:
        where = f" (see: narrowrelu {exc.ctx.command_path.partition(' ')[2]} --help)".replace("  ", " ") \
            if isinstance(exc, click.UsageError) and exc.ctx is not None else ""
        print(f"narrowrelu: error: {exc.format_message()}{where}", file=sys.stderr)
        return 2
    except click.exceptions.Abort:
        print("narrowrelu: aborted", file=sys.stderr)
        return 1
    except (ValueError, OSError, ImportError) as exc:
        if "--debug" in argv:
            raise
        message = _import_message(exc) if isinstance(exc, ImportError) else str(exc)
        print(f"narrowrelu: error: {' '.join(message.split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
