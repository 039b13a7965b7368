"""Command line: ``python -m lth_utils study NAME --profile quick`` and ``python -m lth_utils bench``."""
from __future__ import annotations

import argparse
import sys
import time

from . import __version__


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
    st.add_argument("--trials", default=None,
                    help="run only these trials, e.g. 0-1 (then merge the parts); default all")
    st.add_argument("--no-progress", action="store_true", help="no progress bars")
    mg = sub.add_parser("merge", help="merge the parts of a study split with --trials")
    mg.add_argument("parts", nargs="+", help="the parts' record files (JSON)")
    mg.add_argument("--out", required=True, help="the merged record's path")
    b = sub.add_parser("bench", help="speed of the training loops on this machine")
    b.add_argument("--iterations", type=int, default=200)
    b.add_argument("--conv-k", type=int, default=4)
    parser.add_argument("--version", action="version", version=f"lth_utils {__version__}")
    args = parser.parse_args(argv)

    if args.command == "merge":
        from pathlib import Path

        from . import results
        if any(Path(args.out).resolve() == Path(p).resolve() for p in args.parts):
            parser.exit(2, f"merge: --out {args.out} is one of the parts; write the merged "
                           f"record to a new path\n")
        try:
            results.check_output(args.out)
            merged = results.merge([results.load_record(p) for p in args.parts])
            results.save_record(merged, args.out)
        except (ValueError, FileNotFoundError, OSError) as err:
            parser.exit(2, f"merge: {err}\n")
        print(f"merged {len(args.parts)} parts ({', '.join(str(p['trials']) for p in merged['merged_from'])}) "
              f"into {args.out}: {len(merged['trials'])} trials, {merged['wall_time_s']:.0f} s of compute")
        return 0
    if args.command == "study":
        from . import device, device_name
        from .lottery import parse_trials, run_study, study_config
        try:   # a bad LTH_PROFILE, LTH_DEVICE or --trials: say so before any work
            cfg = study_config(args.name, args.profile)
            device()
            trials = parse_trials(args.trials, cfg.trials)
        except ValueError as err:
            parser.exit(2, f"study: {err}\n")
        print(f"study {cfg.name} · profile {cfg.profile} · trials {args.trials or 'all'} of "
              f"{cfg.trials} · {cfg.rounds} rounds · {cfg.iterations:,} iterations · arms "
              f"ticket+{'+'.join(cfg.controls)} · {device_name()}")
        t0 = time.time()
        try:
            record = run_study(cfg, args.out, progress=False if args.no_progress else None,
                               trials=trials)
        except (OSError, ValueError, RuntimeError) as err:
            parser.exit(2, f"study: {err}\n")
        last = record["rounds"][-1]
        print(f"done in {time.time() - t0:.0f} s (record's total compute {record['wall_time_s']:.0f} s)")
        dense = record["rounds"][0]["arms"]["ticket"]
        mean = lambda xs: sum(xs) / len(xs)
        print(f"dense network's test accuracy at early stop: "
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
