"""Accuracy study: methods (and ablation variants) x pairs x seeds -> results.md / results.json / results.png.

    python tools/study.py --pairs convnext_mlp convnext_deit mixer_resnet --dataset fashion_mnist \\
        --train-subset 5000 --epochs 15 --seeds 0 1 2 --output-dir runs/study

Every pair uses its `--profile` (default small: micro variants at 32x32). Each pair's teacher is
trained once (seed 0, on --teacher-subset images, default the full training split) and shared by every
student run of that pair; students train on the same fixed class-balanced --train-subset with the same
epochs, optimizer and augmentation for every method, and are tested on the full test split.
`--pair-set PAIR:KEY=VALUE` gives one pair's runs their own setting, e.g. a student recipe tuned for
that student on scratch (then the same for every method of the pair).
Variants: `--methods` names methods as they are; `--ablation NAME=METHOD:key=value:...` adds a method
with options, e.g. `--ablation tas_no_nce=tas:w_nce=0 --ablation branch_mse=tas_branch:feature_loss=mse`.
Rerunning the same command reuses finished runs and resumes an interrupted one. A study continued
on a machine that lacks some run folders takes their records from an earlier report with
`--include-records results.json` instead of training them again.
"""

import collections
import dataclasses
import json
import os
import pathlib
import shlex
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: see tas_keras.cli.common
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from tas_keras.cli.common import ArgumentParser, count, run_cli  # noqa: E402
from tas_keras.training.config import ConfigError  # noqa: E402


def parse_args(argv):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--pairs", nargs="+", required=True, help="pair configs, e.g. convnext_mlp convnext_deit mixer_resnet")
    p.add_argument("--methods", nargs="+", default=["scratch", "kd", "fitnet", "ofa", "tas", "tas_branch"])
    p.add_argument("--ablation", action="append", default=[], metavar="[PAIR/]NAME=METHOD:key=value",
                   help="an extra variant, e.g. tas_no_tf=tas:w_tf=0 or mixer_resnet/branch_grid4=tas_branch:nce_grid=4 (repeatable)")
    p.add_argument("--ablation-pairs", nargs="+", help="pairs that run the ablations not tied to a pair (default: all --pairs)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--profile", default="small", help="profile of the pair files (default small); 'none' for the paper scale")
    p.add_argument("--dataset", default="fashion_mnist")
    p.add_argument("--data-dir")
    p.add_argument("--train-subset", type=count(1), help="fixed class-balanced training subset of the students")
    p.add_argument("--teacher-subset", type=count(1), help="training subset of the teachers (default: the full split)")
    p.add_argument("--epochs", type=count(0), help="student epochs (same for every method)")
    p.add_argument("--teacher-epochs", type=count(0))
    p.add_argument("--batch-size", type=count(1))
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config overrides for every run, as in train.py")
    p.add_argument("--pair-set", action="append", default=[], metavar="PAIR:KEY=VALUE",
                   help="an override for one pair's runs, e.g. convnext_deit:student_training.optimizer.lr=0.005 (repeatable)")
    p.add_argument("--output-dir", default="runs/study")
    p.add_argument("--title", default="Accuracy study")
    p.add_argument("--compare", action="append", default=[], metavar="VARIANT:REFERENCE",
                   help="a table of paired (same-seed) differences of VARIANT minus REFERENCE, e.g. --compare tas:tas_branch; repeatable")
    p.add_argument("--report-only", action="store_true", help="train nothing: tables and plot from the runs finished so far")
    p.add_argument("--include-records", action="append", default=[], metavar="RESULTS_JSON",
                   help="an earlier report of this study: its runs that have no finished folder in --output-dir are taken "
                        "from it, not trained (repeatable; later files win)")
    return p.parse_args(argv)


def overrides_from(args):
    sets = [f"data.dataset={args.dataset}"]
    for flag, key in (("data_dir", "data.data_dir"), ("train_subset", "data.train_subset"),
                      ("epochs", "student_training.epochs"), ("teacher_epochs", "teacher_training.epochs")):
        if getattr(args, flag) is not None:
            sets.append(f"{key}={getattr(args, flag)}")
    if args.batch_size is not None:
        sets += [f"teacher_training.batch_size={args.batch_size}", f"student_training.batch_size={args.batch_size}"]
    return sets + list(args.set)


def pair_overrides_from(args):
    """{pair: [key=value, ...]} from --pair-set PAIR:KEY=VALUE."""
    per_pair = {}
    for item in args.pair_set:
        pair, sep, setting = item.partition(":")
        if not sep or "=" not in setting:
            raise ConfigError(f"--pair-set {item!r} must look like PAIR:KEY=VALUE (e.g. convnext_deit:student_training.optimizer.lr=0.005).")
        per_pair.setdefault(pair, []).append(setting)
    return per_pair


def parse_comparison(text, names):
    """'tas:kd' -> ("tas", "kd"), both among the study's variant names."""
    parts = text.split(":")
    if len(parts) != 2:
        raise ConfigError(f"--compare {text!r} must look like VARIANT:REFERENCE, e.g. tas:kd.")
    unknown = [p for p in parts if p not in names]
    if unknown:
        raise ConfigError(f"--compare {text!r}: {unknown[0]!r} is not a variant of this study; choose from {names}.")
    return tuple(parts)


def read_report(path):
    """(per-run records, meta) of a results.json this tool wrote."""
    try:
        report = json.loads(pathlib.Path(path).read_text())
        return report["runs"], report["meta"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise ConfigError(f"--include-records {path!r} is not a results.json written by tools/study.py ({type(err).__name__}: {err}).") from None


def _main(argv):
    args = parse_args(argv)
    from tas_keras.experiments.study import Variant, run_study, with_machine

    main_variants = [Variant.parse(m) for m in args.methods]
    ablations = [Variant.parse(a) for a in args.ablation]
    names = [v.name for v in main_variants + ablations]
    if len(set(names)) != len(names):
        raise ConfigError(f"Variant names must be unique; got {names}.")
    comparisons = [parse_comparison(text, names) for text in args.compare]
    profile = None if args.profile == "none" else args.profile
    ablation_pairs = args.ablation_pairs or args.pairs
    bad = sorted(set(ablation_pairs) - set(args.pairs))
    if bad:
        raise ConfigError(f"--ablation-pairs {bad} are not among --pairs {args.pairs}.")
    start = time.time()
    from tas_keras.experiments.report import write_report

    ablations = [a if a.pairs else dataclasses.replace(a, pairs=tuple(ablation_pairs)) for a in ablations]
    from tas_keras.training.machine import describe_machine

    here = describe_machine()
    earlier = [(with_machine(runs, meta), meta) for runs, meta in map(read_report, args.include_records)]
    included = [run for runs, _ in earlier for run in runs]
    records = run_study(args.pairs, main_variants + ablations, args.seeds, args.output_dir, profile, overrides_from(args),
                        args.teacher_subset, train=not args.report_only, pair_overrides=pair_overrides_from(args), included=included)
    if not records:
        raise ConfigError(f"No finished runs of this study in {args.output_dir}.")
    # a folder's run whose summary predates the machine field ran here, as far as this report can tell
    from_elsewhere = {id(run) for run in included}
    records = [r if r.get("machine") or id(r) in from_elsewhere else {**r, "machine": here} for r in records]
    import keras

    from tas_keras.experiments.floor import FLOOR_METHOD, logistic_regression_top1

    finished = [r for r in records if not r.get("diverged")]  # a diverged run's record has no summary fields
    first = finished[0] if finished else {}
    meta = {
        "title": args.title,
        "command": "python tools/study.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
        "dataset": args.dataset,
        "train_examples": first.get("train_examples"),
        "test_examples": first.get("test_examples"),
        "epochs": first.get("epochs"),
        "seeds": args.seeds,
        "machine": here,
        "runs_per_machine": dict(collections.Counter(r["machine"] or "not recorded" for r in records)),
        "backend": keras.backend.backend(),
        "wall_minutes": round(sum(r["wall_seconds"] for r in finished) / 60, 1),  # each run's last process (see train_minutes)
        # the students' training over every leg of resumed runs; None when a record predates train_seconds
        "train_minutes": round(sum(r["train_seconds"] for r in finished) / 60, 1) if all(r.get("train_seconds") for r in finished) else None,
        "this_call_minutes": round((time.time() - start) / 60, 1),
        "floor_top1": logistic_regression_top1(args.dataset, args.train_subset, args.data_dir),
        "floor_method": FLOOR_METHOD,
    }
    if args.include_records:
        used = {id(r) for r in records}
        meta["included_records"] = [{"file": path, "runs": sum(id(r) in used for r in runs)} for path, (runs, _) in zip(args.include_records, earlier)]
    out = pathlib.Path(args.output_dir)
    write_report(records, meta, out, [v.name for v in main_variants], [v.name for v in ablations], comparisons)
    print((out / "results.md").read_text())
    print(f"Wrote {out / 'results.md'}, {out / 'results.json'}, {out / 'results.png'}")
    return 0


def main(argv=None):
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
