"""Top-1 / top-5 of a saved model (e.g. a distilled student.keras) on a dataset's test split.

    python tools/evaluate.py runs/convnext_mlp-small/digits-tas/student.keras --dataset digits --json eval.json

(`tas-evaluate` for an installed package.)
"""

import os
import sys

from tas_keras.cli.common import ArgumentParser, count, quiet_tensorflow, run_cli
from tas_keras.errors import InputError


def _main(argv):
    p = ArgumentParser(prog="evaluate.py", description=__doc__)
    p.add_argument("model", help="a .keras file holding a tas_keras zoo model")
    p.add_argument("--dataset", required=True, help="digits | fashion_mnist | cifar10 | cifar100 | imagenette | imagenet2012 | folder:/path")
    p.add_argument("--data-dir", help="where the dataset files are")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--batch-size", type=count(1), default=256)
    p.add_argument("--json", help="also write the result to this JSON file")
    args = p.parse_args(argv)

    import keras

    import tas_keras
    from tas_keras.atomic import atomic_json
    from tas_keras.data import build_dataset
    from tas_keras.training.build import ADAPT_HINT
    from tas_keras.training.runner import evaluate

    if not os.path.isfile(args.model):
        raise InputError(f"model file {args.model!r} does not exist")
    try:
        model = keras.saving.load_model(args.model)
    except Exception as err:  # not a zip, unknown classes, ...
        raise InputError(f"could not load {args.model!r} (corrupt or not a Keras model file?): {err}") from err
    if not isinstance(model, tas_keras.Backbone):
        raise InputError(f"{args.model!r} holds a {type(model).__name__}, not a tas_keras zoo model; {ADAPT_HINT}")
    data, info = build_dataset(args.dataset, args.split, int(model.input_shape[1]), args.batch_size, data_dir=args.data_dir, normalize=True)
    if info.num_classes != int(model.output_shape[-1]):
        raise InputError(f"{args.model!r} predicts {model.output_shape[-1]} classes; {args.dataset} has {info.num_classes}")
    result = {"model": args.model, "dataset": args.dataset, "split": args.split, "examples": info.num_examples, **evaluate(model, data)}
    print(f"{args.model}: top-1 {100 * result['top1']:.2f}  top-5 {100 * result['top5']:.2f}  ({info.num_examples} {args.split} images of {args.dataset})")
    if args.json:
        atomic_json(args.json, result)
    return 0


def main(argv=None):
    quiet_tensorflow()
    return run_cli(_main, argv, prog="evaluate.py")


if __name__ == "__main__":
    sys.exit(main())
