"""The ``narrowrelu`` command line.

``narrowrelu demo`` plants an instance where gradient descent is known to fail (Safran and
Shamir's orthonormal network), learns it, runs the tuned Adam baseline on the same data when
torch is installed, and prints both side by side with the exact errors. Every user mistake
exits with status 2 and one line on stderr (``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
import time

from . import planted
from .learn import learn
from .metrics import recovery_report, relative_error

#: Matched neurons closer than this angle (radians) count as recovered in the demo table (ours).
NEURON_TOL = 1e-2


def _row(name: str, net, truth, seconds: float, note: str = "") -> str:
    error = relative_error(net, truth)
    report = recovery_report(net, truth)
    close = sum(m.angle < NEURON_TOL for m in report.matches)
    verdict = "recovered" if error <= 1e-4 else "not recovered"
    return f"{name:<28} {error:>12.2e} {verdict:>14} {close:>4}/{truth.k:<3} {seconds:>8.1f}s  {note}"


def demo(args: argparse.Namespace) -> int:
    truth = planted.make(args.family, args.d, args.k, random_state=args.seed)
    X, y = planted.sample(truth, args.n, noise=args.noise, random_state=args.seed + 1)
    print(f"planted: {args.family} network, d={args.d}, k={args.k}, {args.n} samples, noise={args.noise}\n")
    start = time.perf_counter()
    net = learn(X, y, args.k, random_state=args.seed)
    ours_seconds = time.perf_counter() - start
    print(net.report, "\n")
    rows = [_row("narrowrelu (auto)", net, truth, ours_seconds, f"{net.report.passes} data passes")]
    if args.baseline:
        try:
            from .baselines import gradient_descent, tune_learning_rate

            # Tune on a separate draw, then run on the same data as ours.
            Xt, yt = planted.sample(truth, args.n, random_state=args.seed + 2)
            lr, _ = tune_learning_rate(Xt, yt, args.k, epochs=20, random_state=args.seed)
            start = time.perf_counter()
            adam = gradient_descent(X, y, args.k, lr=lr, epochs=100, restarts=3, random_state=args.seed)
            note = f"lr {lr:g} (tuned), {adam.report['restarts']} restarts x 100 epochs"
            rows.append(_row("PyTorch Adam", adam, truth, time.perf_counter() - start, note))
        except ImportError as exc:
            rows.append(f"{'PyTorch Adam':<28} skipped: {exc}")
    print(f"{'method':<28} {'rel. error':>12} {'(<= 1e-4)':>14} {'neurons':>8} {'time':>9}")
    print("\n".join(rows))
    print(f"\nrelative error: exact E[(f_hat - f)^2] / Var f; neurons: matched within {NEURON_TOL} rad")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="narrowrelu", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="plant a hard instance, learn it, compare with Adam, print exact errors")
    p.add_argument("--family", default="orthonormal", choices=list(planted.FAMILIES))
    p.add_argument("--d", type=int, default=10)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--n", type=int, default=50_000)
    p.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-baseline", dest="baseline", action="store_false", help="skip the Adam baseline")
    p.set_defaults(run=demo)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"narrowrelu: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
