"""Command line: ``python -m gaussmix demo [--out DIR] [--quick]``."""

import argparse
import sys
import time


def main(argv=None):
    """Parse ``argv`` and run the requested command; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m gaussmix")
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser(
        "demo",
        help="reproduce the figures and results of the handbook's Gaussian-mixture chapter",
    )
    demo.add_argument("--out", default="gaussmix-demo", metavar="DIR",
                      help="directory for the PNGs and summary.txt (default: %(default)s)")
    demo.add_argument("--quick", action="store_true",
                      help="shrink the digits' AIC sweep (for tests)")
    args = parser.parse_args(argv)

    try:
        from .demo import run_demo
    except ImportError as exc:
        print(f"gaussmix demo: {exc}", file=sys.stderr)
        return 1
    start = time.perf_counter()
    summary = run_demo(args.out, quick=args.quick)
    print()
    print(f"{len(summary['figures'])} figures in {summary['summary_path'].parent.resolve()}:")
    for path in summary["figures"].values():
        print(f"  {path}")
    print(f"summary: {summary['summary_path']}")
    print(f"wall time: {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
