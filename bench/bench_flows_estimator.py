"""Validation of the flow estimator by simulation: empirical coverage of its 95% interval.

Run:  .venv/bin/python bench/bench_flows_estimator.py [--reps 1000] [--boot 1000] [--seed 1]
                                                      [--scenario NAME ...] [--period week|month ...]

For every scenario of mobility/flows/simulation.py (a true hourly flow with daily and weekly
seasonality, a market day, surges and negative-binomial noise, observed by a team on a schedule
with missed days and hours) and each period (ISO week, calendar month), it simulates ``--reps``
independent periods after a 12-week history, estimates each total with estimation.estimate_total
(profile fitted on the whole history, ``--boot`` bootstrap replicates) and prints how often the
95% interval held the true total, the mean bias and width relative to the truth, the mean share of
hours observed, the methods reported, and the time per estimate.

Compared to: the nominal 95%. DTM's own flow monitoring publishes no estimate of the total flow
and no interval (it reports the observed counts only), so there is no peer figure to compare.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mobility.flows.simulation import SCENARIOS, coverage_run  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--boot", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--period", action="append", choices=["week", "month"])
    args = parser.parse_args()
    scenarios = args.scenario or list(SCENARIOS)
    periods = args.period or ["week", "month"]
    print(f"reps={args.reps} bootstrap={args.boot} seed={args.seed}")
    header = (
        f"| {'scenario':<20} | {'period':<6} | {'reps':>5} | {'coverage':>8} | {'bias':>6} | {'width':>6} "
        f"| {'hours obs':>9} | {'ms/est':>6} | method (most frequent) |"
    )
    print(header)
    print("|" + "|".join("-" * (len(c)) for c in header.split("|")[1:-1]) + "|")
    for name in scenarios:
        for period in periods:
            started = time.perf_counter()
            result = coverage_run(name, period=period, reps=args.reps, seed=args.seed, n_boot=args.boot)
            elapsed = (time.perf_counter() - started) / max(result.replications, 1) * 1000
            method = max(result.methods.items(), key=lambda kv: kv[1])[0] if result.methods else "-"
            print(
                f"| {name:<20} | {period:<6} | {result.replications:>5} | {result.coverage:>8.3f} "
                f"| {result.mean_relative_bias:>+6.3f} | {result.mean_relative_width:>6.3f} "
                f"| {result.mean_hours_coverage:>9.2f} | {elapsed:>6.1f} | {method} |",
                flush=True,
            )
    print(
        "coverage: share of replications whose 95% interval held the true total; bias and width: "
        "mean (estimate − truth) / truth and (upper − lower) / truth; ms/est includes simulating."
    )


if __name__ == "__main__":
    main()
