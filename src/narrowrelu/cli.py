"""The ``narrowrelu`` command line: demo, generate, fit, identify, predict, evaluate, report, export, bench.

Every user mistake exits with status 2 and one line on stderr; ``--debug`` shows the
traceback. The commands themselves live in :mod:`narrowrelu._commands` (click and rich,
the ``cli`` extra).
"""

from __future__ import annotations

import sys


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
        print(f"narrowrelu: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
