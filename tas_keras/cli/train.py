"""Distil a student from a teacher: config -> teacher stage -> distiller -> fit -> outputs.

    python tools/train.py --pair convnext_mlp --profile small          # offline, CPU, minutes
    python tools/train.py --pair convnext_mlp --dataset cifar100       # paper scale (GPUs)

(`tas-train` and `python -m tas_keras.cli.train` are the same command for an installed package.)
The run folder receives student.keras, teacher.keras, config.yaml, metrics.csv, tensorboard/ and
summary.json; rerunning the same command resumes an interrupted run from its last finished epoch.
Without --teacher, the teacher is trained first and cached in --teacher-cache.
"""

import os
import sys

from tas_keras.cli.common import ArgumentParser, count, quiet_tensorflow, run_cli


def parse_args(argv):
    from tas_keras.training.config import list_pairs

    p = ArgumentParser(prog="train.py", description=__doc__)
    p.add_argument("--pair", required=True, help=f"pair config ({', '.join(list_pairs())}) or a .yaml path")
    p.add_argument("--profile", help="a profile of the pair file, e.g. 'small' (micro models at 32x32 on digits); without it, the paper-scale recipe")
    p.add_argument("--dataset", help="digits | fashion_mnist | cifar10 | cifar100 | imagenette | imagenet2012 | folder:/path")
    p.add_argument("--data-dir", help="where the dataset files are (Fashion-MNIST IDX files, a tfds data_dir, ...)")
    p.add_argument("--download", action="store_true", help="allow tfds to download the dataset (never by default)")
    p.add_argument("--method", help="distillation method, e.g. tas | kd | ofa (default: the config's)")
    p.add_argument("--teacher", help="a trained teacher .keras file; without it the teacher is trained (or reused from --teacher-cache) first")
    p.add_argument("--teacher-cache", help="folder of trained teachers, one subfolder per teacher setting (default: teachers/ beside the run folder)")
    p.add_argument("--epochs", type=count(0), help="the student's (distillation) epochs: student_training.epochs")
    p.add_argument("--teacher-epochs", type=count(0), help="the teacher's epochs when it is trained here: teacher_training.epochs")
    p.add_argument("--batch-size", type=count(1), help="global batch size of both stages")
    p.add_argument("--train-subset", type=count(1), help="train on a fixed class-balanced subset of this many images")
    p.add_argument("--output-dir", help="run folder (default runs/<pair>[-<profile>]/<dataset>-<method>)")
    p.add_argument("--strategy", choices=["auto", "mirrored", "multi_worker", "none"], help="distribution (default auto)")
    p.add_argument("--xla", choices=["auto", "on", "off", "elementwise"],
                   help="XLA for the training step (default auto: on with a GPU; on a CPU off, or elementwise for a bfloat16 "
                        "student; elementwise: only its elementwise work, matmuls and convolutions left to TensorFlow's kernels)")
    p.add_argument("--no-xla", action="store_true", help="same as --xla off")
    p.add_argument("--precision", choices=["float32", "mixed_float16", "mixed_bfloat16"])
    p.add_argument("--seed", type=int)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set distiller.w_nce=0.5 --set student_training.optimizer.lr=1e-3")
    return p.parse_args(argv)


def overrides_from(args):
    sets = []
    for flag, key in (("dataset", "data.dataset"), ("data_dir", "data.data_dir"), ("method", "distiller.method"),
                      ("epochs", "student_training.epochs"), ("teacher_epochs", "teacher_training.epochs"),
                      ("train_subset", "data.train_subset"), ("strategy", "strategy"), ("precision", "precision"), ("seed", "seed")):
        value = getattr(args, flag)
        if value is not None:
            sets.append(f"{key}={value}")
    if args.batch_size is not None:
        sets += [f"teacher_training.batch_size={args.batch_size}", f"student_training.batch_size={args.batch_size}"]
    if args.no_xla or args.xla == "off":
        sets.append("xla=false")
    elif args.xla:
        sets.append("xla=" + {"on": "true", "auto": "auto", "elementwise": "elementwise"}[args.xla])
    if args.download:
        sets.append("data.download=true")
    return sets + list(args.set)


def default_output_dir(config, profile):
    name = config.pair + (f"-{profile}" if profile else "")
    dataset = config.data.dataset.replace(":", "_").replace("/", "_")
    return os.path.join("runs", name, f"{dataset}-{config.distiller.method}")


def print_summary(summary, output_dir):
    t, s = summary["teacher"], summary["student"]
    print()
    print(f"  {summary['pair']} / {summary['method']} on {summary['dataset']} ({summary['test_examples']} test images)")
    print(f"  teacher {t['model']:<32} top-1 {100 * t['top1']:6.2f}  top-5 {100 * t['top5']:6.2f}")
    print(f"  student {s['model']:<32} top-1 {100 * s['top1']:6.2f}  top-5 {100 * s['top5']:6.2f}")
    print(f"  {summary['wall_seconds']:.0f} s; outputs in {output_dir}")


def _main(argv):
    from tas_keras.training.config import load_config

    args = parse_args(argv)
    config = load_config(args.pair, args.profile, overrides_from(args))
    output_dir = args.output_dir or default_output_dir(config, args.profile)

    from tas_keras.training.runner import run

    summary = run(config, output_dir, teacher_file=args.teacher, teacher_cache=args.teacher_cache)
    print_summary(summary, output_dir)
    return 0


def main(argv=None):
    quiet_tensorflow()
    return run_cli(_main, argv, prog="train.py")


if __name__ == "__main__":
    sys.exit(main())
