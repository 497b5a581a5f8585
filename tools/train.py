"""Distil a student from a teacher: config -> teacher stage -> distiller -> fit -> outputs.

    python tools/train.py --pair convnext_mlp --profile small          # offline, CPU, minutes
    python tools/train.py --pair convnext_mlp --dataset cifar100       # paper scale (GPUs)

The run folder receives student.keras, teacher.keras, config.yaml, metrics.csv, tensorboard/ and
summary.json; rerunning the same command resumes an interrupted run from its last finished epoch.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from tas_keras.config import ConfigError, list_pairs, load_config  # noqa: E402
if os.environ.get("TAS_KERAS_FULL_TRACEBACK"):
    import keras

    keras.config.disable_traceback_filtering()


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pair", required=True, help=f"pair config in configs/ ({', '.join(list_pairs())}) or a .yaml path")
    p.add_argument("--profile", help="a profile of the pair file, e.g. 'small' (micro models at 32x32 on digits)")
    p.add_argument("--dataset", help="digits | fashion_mnist | cifar10 | cifar100 | imagenette | imagenet2012 | folder:/path")
    p.add_argument("--data-dir", help="where the dataset files are (Fashion-MNIST IDX files, a tfds data_dir, ...)")
    p.add_argument("--download", action="store_true", help="allow tfds to download the dataset (never by default)")
    p.add_argument("--method", help="scratch | kd | fitnet | ofa | tas (default: the config's)")
    p.add_argument("--teacher", help="a trained teacher .keras file; without it the teacher is trained (or reused) first")
    p.add_argument("--epochs", type=int, help="distillation epochs (student_training.epochs)")
    p.add_argument("--teacher-epochs", type=int, help="teacher training epochs (teacher_training.epochs)")
    p.add_argument("--batch-size", type=int, help="global batch size of both stages")
    p.add_argument("--train-subset", type=int, help="train on a fixed class-balanced subset of this many images")
    p.add_argument("--output-dir", help="run folder (default runs/<pair>[-<profile>]/<dataset>-<method>)")
    p.add_argument("--strategy", choices=["auto", "mirrored", "multi_worker", "none"], help="distribution (default auto)")
    p.add_argument("--xla", choices=["auto", "on", "off"], help="XLA for the training step (default auto: on with a GPU, off on CPU)")
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
        sets.append(f"xla={'true' if args.xla == 'on' else 'auto'}")
    if args.download:
        sets.append("data.download=true")
    return sets + list(args.set)


def print_summary(summary, output_dir):
    t, s = summary["teacher"], summary["student"]
    print()
    print(f"  {summary['pair']} / {summary['method']} on {summary['dataset']} ({summary['test_examples']} test images)")
    print(f"  teacher {t['model']:<32} top-1 {100 * t['top1']:6.2f}  top-5 {100 * t['top5']:6.2f}")
    print(f"  student {s['model']:<32} top-1 {100 * s['top1']:6.2f}  top-5 {100 * s['top5']:6.2f}")
    print(f"  {summary['wall_seconds']:.0f} s; outputs in {output_dir}")


def main(argv=None):
    args = parse_args(argv)
    try:
        config = load_config(args.pair, args.profile, overrides_from(args))
    except ConfigError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    name = config.pair + (f"-{args.profile}" if args.profile else "")
    output_dir = args.output_dir or os.path.join("runs", name, f"{config.data.dataset.replace(':', '_').replace('/', '_')}-{config.distiller.method}")

    from tas_keras.data import DatasetUnavailable
    from tas_keras.training.runner import TeacherFileError, run

    try:
        summary = run(config, output_dir, teacher_file=args.teacher)
    except (DatasetUnavailable, TeacherFileError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    print_summary(summary, output_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
