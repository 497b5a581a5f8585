"""Per-loss-term gradient norms on the student's weights: which term drives the shared stages.

    python tools/grad_norms.py --pair convnext_mlp --profile small --dataset fashion_mnist \
        --teacher runs/study_fmnist/teachers/96722869ab27/teacher.keras [--student trained.keras] \
        [--method tas_branch --set distiller.branch_grad_scale=0.01]

Prints a Markdown table: each term's value and the L2 norm of its gradient on all student weights and
on the weights every term trains (the stages an assistant or branch shares with the student), and that
norm relative to the student's own CE, averaged over --batches training batches (any backend).
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: see tas_keras.cli.common
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from tas_keras.cli.common import ArgumentParser, count, run_cli  # noqa: E402
from tas_keras.errors import InputError  # noqa: E402
from tas_keras.training.config import list_pairs, load_config  # noqa: E402


def _main(argv):
    p = ArgumentParser(description=__doc__)
    p.add_argument("--pair", required=True, help=f"pair config ({', '.join(list_pairs())}) or a .yaml path")
    p.add_argument("--profile", help="a profile of the pair file, e.g. 'small'")
    p.add_argument("--dataset", help="digits | fashion_mnist | cifar10 | cifar100 | ... (default: the config's)")
    p.add_argument("--data-dir", help="where the dataset files are")
    p.add_argument("--method", help="distillation method (default: the config's)")
    p.add_argument("--teacher", required=True, help="a trained teacher .keras file")
    p.add_argument("--student", help="a student .keras file to start from (default: freshly initialised)")
    p.add_argument("--batch-size", type=count(1), default=128)
    p.add_argument("--batches", type=count(1), default=4, help="training batches to average over")
    p.add_argument("--train-subset", type=count(1))
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="config override, e.g. distiller.w_nce=0.1")
    p.add_argument("--json", help="also write the numbers to this JSON file")
    args = p.parse_args(argv)
    sets = [f"seed={args.seed}", *args.set]
    for flag, key in (("dataset", "data.dataset"), ("data_dir", "data.data_dir"), ("method", "distiller.method"), ("train_subset", "data.train_subset")):
        if getattr(args, flag) is not None:
            sets.append(f"{key}={getattr(args, flag)}")
    config = load_config(args.pair, args.profile, sets)

    import keras

    from tas_keras.atomic import atomic_json
    from tas_keras.data import build_dataset
    from tas_keras.diagnostics import format_table, loss_gradient_norms
    from tas_keras.training.build import build_distiller, build_student, load_teacher_file, teacher_size

    keras.utils.set_random_seed(config.seed)
    data, info = build_dataset(config.data.dataset, "train", config.data.image_size, args.batch_size, augment=config.student_training.augment,
                               seed=config.seed, data_dir=config.data.data_dir, subset=config.data.train_subset)
    teacher = load_teacher_file(args.teacher, teacher_size(config), info.num_classes)
    if args.student:
        if not os.path.isfile(args.student):
            raise InputError(f"student file {args.student!r} does not exist")
        student = keras.saving.load_model(args.student, compile=False)
    else:
        student = build_student(config, info.num_classes)
    distiller = build_distiller(config, teacher, student, xla=False, pixel_normalization=info.normalization)
    batches = list(data.take(args.batches).as_numpy_iterator())
    calibrate = distiller.method.needs_calibration()  # a fresh distiller: the raw pull is measured first
    norms, meta = loss_gradient_norms(distiller, batches)
    print(f"{config.distiller.method} {config.teacher.name} -> {config.student.name} ({'trained: ' + args.student if args.student else 'at initialisation'}); "
          f"{meta['shared_weights']} of {meta['student_weights']} student weights are trained by every term; mean of {meta['batches']} batches of {args.batch_size}")
    print(format_table(norms))
    result = {"pair": config.pair, "method": config.distiller.method, "options": config.distiller.options,
              "student_file": args.student, "norms": norms, **meta}
    if calibrate:  # what fit() would do first, on these batches: calibrate, then the same table
        result["calibration"] = distiller.calibrate(batches)
        result["calibrated_norms"], _ = loss_gradient_norms(distiller, batches)
        print("\nAfter calibration (" + ", ".join(f"{k}={v:.4g}" for k, v in result["calibration"].items()) + "):")
        print(format_table(result["calibrated_norms"]))
    if args.json:
        atomic_json(args.json, result)
    return 0


def main(argv=None):
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
