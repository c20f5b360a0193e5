"""The ``narrowrelu`` command line.

``narrowrelu demo`` plants a hard instance, learns it and prints the exact error and the
neuron-by-neuron recovery. Every user mistake exits with status 2 and one line on stderr
(``--debug`` shows the traceback).
"""

from __future__ import annotations

import argparse
import sys
import time

from . import planted
from .learn import learn
from .metrics import recovery_report, relative_error


def demo(args: argparse.Namespace) -> int:
    knobs = {"theta": args.theta, "L": 5.0} if args.family == "close-pair" else {}
    truth = planted.make(args.family, args.d, args.k, random_state=args.seed, **knobs)
    X, y = planted.sample(truth, args.n, noise=args.noise, random_state=args.seed + 1)
    print(f"planted: {args.family} network, d={args.d}, k={args.k}, {args.n} samples, noise={args.noise}")
    start = time.perf_counter()
    net = learn(X, y, args.k, random_state=args.seed)
    seconds = time.perf_counter() - start
    print(net.report)
    error = relative_error(net, truth)
    report = recovery_report(net, truth)
    print(f"\nexact relative population error: {error:.3e}  ({'recovered' if error <= 1e-4 else 'not recovered'},"
          f" threshold 1e-4)  in {seconds:.1f}s")
    print(f"{'neuron':>6} {'angle (rad)':>12} {'true weight':>12} {'learned':>12} {'flipped':>8}")
    for m in sorted(report.matches, key=lambda m: m.truth_index):
        print(f"{m.truth_index:>6} {m.angle:>12.2e} {m.truth_weight:>12.4f} {m.estimate_weight:>12.4f} "
              f"{str(m.flipped):>8}")
    for i in report.unmatched_truth:
        print(f"{i:>6} {'unmatched':>12}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="narrowrelu", description=__doc__.splitlines()[0])
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("demo", help="plant a hard instance, learn it, print the exact error")
    p.add_argument("--family", default="close-pair", choices=list(planted.FAMILIES))
    p.add_argument("--d", type=int, default=50)
    p.add_argument("--k", type=int, default=6)
    p.add_argument("--n", type=int, default=150_000)
    p.add_argument("--noise", type=float, default=0.0)
    p.add_argument("--theta", type=float, default=0.02, help="close-pair angle (radians)")
    p.add_argument("--seed", type=int, default=0)
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
