"""Command line: ``python -m lth_utils study NAME --profile quick`` and ``python -m lth_utils bench``."""
from __future__ import annotations

import argparse
import sys
import time

from . import __version__
from .lottery import PROFILES


def lottery_names() -> set[str]:
    from .lottery import STUDIES
    return set(STUDIES)


def _lottery_summary(record: dict) -> None:
    """The dense network's and the last round's accuracies of a lottery record."""
    def mean(xs):
        return sum(xs) / len(xs)
    last = record["rounds"][-1]
    dense = record["rounds"][0]["arms"]["ticket"]
    print(f"dense network's test accuracy at early stop: "
          f"{100 * mean([m['early_stop_test_acc'] for m in dense]):.2f}%")
    print(f"last round ({100 * last['fraction_remaining']:.1f}% weights left): " + ", ".join(
        f"{arm} {100 * mean([m['early_stop_test_acc'] for m in ms]):.2f}%"
        for arm, ms in last["arms"].items()))


def _count(text: str) -> int:
    """An argparse type: a whole number >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {value}")
    return value


def main(argv: list[str] | None = None) -> int:
    from .studies import STUDIES, listing
    parser = argparse.ArgumentParser(prog="python -m lth_utils",
                                     description="Lottery-ticket studies and benchmarks.")
    sub = parser.add_subparsers(dest="command", required=True)
    st = sub.add_parser("study", help="run (or resume, or load) one of the book's studies",
                        formatter_class=argparse.RawDescriptionHelpFormatter,
                        epilog="studies:\n" + listing() + "\n\nprofiles: quick (CI), "
                        "standard (the published book), paper (the papers' protocol)")
    st.add_argument("name", choices=list(STUDIES), metavar="NAME",
                    help="the study (listed below)")
    st.add_argument("--profile", choices=PROFILES, default=None,
                    help="sizes: quick (CI), standard (the book), paper (full protocol); "
                         "default $LTH_PROFILE or quick")
    st.add_argument("--out", default=None,
                    help="record path (default data/results/NAME-PROFILE.json)")
    st.add_argument("--trials", default=None,
                    help="run only these trials, e.g. 0-1 (then merge the parts); default all")
    st.add_argument("--no-progress", action="store_true", help="no progress bars")
    st.add_argument("--scheduler", default=None, metavar="ADDRESS",
                    help="run the trials as tasks on a Dask cluster: 'local' (a local cluster "
                         "of --parts processes) or a scheduler's address (tcp://HOST:8786); "
                         "the parts are merged into --out")
    st.add_argument("--parts", type=int, default=2,
                    help="with --scheduler: how many tasks the trials are split into")
    mg = sub.add_parser("merge", help="merge the parts of a study split with --trials")
    mg.add_argument("parts", nargs="+", help="the parts' record files (JSON)")
    mg.add_argument("--out", required=True, help="the merged record's path")
    b = sub.add_parser("bench", help="speed of the training loops on this machine")
    b.add_argument("--iterations", type=_count, default=200)
    b.add_argument("--conv-k", type=_count, default=4)
    parser.add_argument("--version", action="version", version=f"lth_utils {__version__}")
    args = parser.parse_args(argv)

    if args.command == "merge":
        from pathlib import Path

        from . import results
        from .studies import merge
        if any(Path(args.out).resolve() == Path(p).resolve() for p in args.parts):
            parser.exit(2, f"merge: --out {args.out} is one of the parts; write the merged "
                           f"record to a new path\n")
        try:
            results.check_output(args.out)
            merged = merge([results.load_record(p) for p in args.parts])
            if Path(args.out).exists() and \
                    results.load_record(args.out).get("config") != merged["config"]:
                raise ValueError(f"--out {args.out} holds another study's record (or another "
                                 f"profile's): refusing to overwrite it; choose another --out")
            results.save_record(merged, args.out)
        except (ValueError, FileNotFoundError, OSError) as err:
            parser.exit(2, f"merge: {err}\n")
        print(f"merged {len(args.parts)} parts (trials "
              f"{', '.join(str(p['trials']) for p in merged['merged_from'])}) into {args.out}: "
              f"{merged['config']['trials']} trials, {merged['wall_time_s']:.0f} s of compute")
        return 0
    if args.command == "study":
        from . import device, device_name, results
        from . import profile as current_profile
        study = STUDIES[args.name]
        try:   # a bad LTH_PROFILE, LTH_DEVICE or --trials: say so before any work
            cfg = study.config(args.profile)
            device()
            n = study.trials(cfg)
            if n is None and args.trials is not None:
                raise ValueError(f"{args.name} has no trials to split: leave out --trials")
            trials = results.parse_trials(args.trials, n) if n else None
            if args.scheduler and (n is None or args.trials is not None):
                raise ValueError("--scheduler spreads all of a study's trials: leave out "
                                 "--trials" if n else f"{args.name} has no trials to spread")
        except ValueError as err:
            parser.exit(2, f"study: {err}\n")
        profile = args.profile or current_profile()
        print(f"study {args.name} · profile {profile} · "
              + (f"trials {args.trials or 'all'} of {n} · " if n else "") + device_name())
        t0 = time.time()
        try:
            if args.scheduler:
                from .cluster import run_on_dask
                record = run_on_dask(study, cfg, args.out or study.path(cfg, None),
                                     args.parts, args.scheduler)
            else:
                record = study.run(cfg, args.out, trials, False if args.no_progress else None)
        except (OSError, ValueError, RuntimeError) as err:
            parser.exit(2, f"study: {err}\n")
        where = args.out or study.path(cfg, trials)
        print(f"done in {time.time() - t0:.0f} s (record's total compute "
              f"{record['wall_time_s']:.0f} s): {where}")
        if args.name in lottery_names():
            _lottery_summary(record)
        elif args.name.startswith("horizon-"):
            from .horizon import summary
            print("\n".join(summary(args.name.removeprefix("horizon-"), record)))
        return 0
    from .bench import run_bench
    run_bench(iterations=args.iterations, conv_k=args.conv_k)
    return 0


if __name__ == "__main__":
    sys.exit(main())
