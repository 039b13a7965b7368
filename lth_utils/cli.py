"""Command line: ``python -m lth_utils study NAME --profile quick`` and ``python -m lth_utils bench``."""
from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m lth_utils",
                                     description="Lottery-ticket studies and benchmarks.")
    sub = parser.add_subparsers(dest="command", required=True)
    from .lottery import PROFILES, STUDIES
    st = sub.add_parser("study", help="run (or resume, or load) a lottery-ticket study")
    st.add_argument("name", choices=sorted(STUDIES))
    st.add_argument("--profile", choices=PROFILES, default=None,
                    help="sizes: quick (CI), standard (the book), paper (full protocol); "
                         "default $LTH_PROFILE or quick")
    st.add_argument("--out", default=None, help="record path (default data/results/NAME-PROFILE.json)")
    st.add_argument("--no-progress", action="store_true", help="no progress bars")
    b = sub.add_parser("bench", help="speed of the training loops on this machine")
    b.add_argument("--iterations", type=int, default=200)
    b.add_argument("--conv-k", type=int, default=4)
    args = parser.parse_args(argv)

    if args.command == "study":
        from .lottery import run_study, study_config
        cfg = study_config(args.name, args.profile)
        print(f"study {cfg.name} · profile {cfg.profile} · {cfg.trials} trial(s) · {cfg.rounds} "
              f"rounds · {cfg.iterations:,} iterations · arms ticket+{'+'.join(cfg.controls)}")
        t0 = time.time()
        record = run_study(cfg, args.out, progress=not args.no_progress)
        last = record["rounds"][-1]
        print(f"done in {time.time() - t0:.0f} s (record's total compute {record['wall_time_s']:.0f} s)")
        dense = record["rounds"][0]["arms"]["ticket"]
        mean = lambda xs: sum(xs) / len(xs)
        print(f"dense LeNet test accuracy at early stop: "
              f"{100 * mean([m['early_stop_test_acc'] for m in dense]):.2f}%")
        print(f"last round ({100 * last['fraction_remaining']:.1f}% weights left): " + ", ".join(
            f"{arm} {100 * mean([m['early_stop_test_acc'] for m in ms]):.2f}%"
            for arm, ms in last["arms"].items()))
        return 0
    from .bench import run_bench
    run_bench(iterations=args.iterations, conv_k=args.conv_k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
