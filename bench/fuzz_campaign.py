"""The long hostile-input campaign (issue 8): gaussmix and scikit-learn on the same cases.

    python bench/fuzz_campaign.py --cases 20000 [--seed 0] [--out bench/results]

Draws cases from the space of tests/python/fuzz_cases.py, runs each in a supervised worker for
each library, and prints (and writes as JSON) the count of every outcome: ok, clean error, bad
(NaN or infinite parameters or outputs), unclean exception, crash, hang; scikit-learn takes no
sample_weight, so weighted cases are "unsupported" for it. Every non-ok, non-error gaussmix case
is listed with its case so that it can be replayed.
"""

import argparse
import collections
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "python"))
from fuzz_cases import OUTCOMES, Supervisor, draw_case  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--libraries", default="gaussmix,sklearn")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "results"))
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    cases = [draw_case(rng) for _ in range(args.cases)]
    report = {"cases": args.cases, "seed": args.seed, "libraries": {}}
    for library in args.libraries.split(","):
        supervisor = Supervisor(library, timeout=args.timeout)
        counts = collections.Counter()
        findings = []
        start = time.perf_counter()
        for index, case in enumerate(cases, start=1):
            result = supervisor.run(case)
            counts[result["outcome"]] += 1
            if result["outcome"] not in ("ok", "error", "unsupported"):
                findings.append({"case": case, **result})
                if all("(far)" in problem for problem in result["detail"].split("; ")):
                    counts["bad on far points only"] += 1
                if library == "gaussmix" or len(findings) <= 10:  # the peers' findings are expected
                    print(f"  {library} case {index}: {result['outcome']}: {result['detail']} {json.dumps(case)}",
                          flush=True)
            if index % 2000 == 0:
                print(f"  {library}: {index} cases, " + ", ".join(f"{o} {counts[o]}" for o in OUTCOMES if counts[o]),
                      flush=True)
        supervisor.close()
        report["libraries"][library] = {
            "counts": {outcome: counts[outcome] for outcome in OUTCOMES + ("bad on far points only",)},
            "seconds": time.perf_counter() - start,
            "findings": findings[:200],
        }
        print(f"{library}: " + ", ".join(f"{o} {counts[o]}" for o in OUTCOMES) +
              f" ({time.perf_counter() - start:.0f} s)", flush=True)

    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, time.strftime("%Y%m%d-%H%M%S") + f"-fuzz-{args.cases}.json")
    with open(path, "w") as handle:
        json.dump(report, handle, indent=1)
    print("wrote", path)
    print()
    print("| library | cases | ok | clean error | bad: NaN/inf (far points only) | unclean | crash | hang | "
          "unsupported |")
    print("|---|--:|--:|--:|--:|--:|--:|--:|--:|")
    for library, entry in report["libraries"].items():
        c = entry["counts"]
        print(f"| {library} | {args.cases} | {c['ok']} | {c['error']} | {c['bad']} ({c['bad on far points only']}) | "
              f"{c['unclean']} | {c['crash']} | {c['hang']} | {c['unsupported']} |")


if __name__ == "__main__":
    main()
