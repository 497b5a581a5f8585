"""Top-1 / top-5 of a saved model (e.g. a distilled student.keras) on a dataset's test split.

    python tools/evaluate.py runs/convnext_mlp-small/digits-tas/student.keras --dataset digits --json eval.json
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("model", help="a .keras file holding a tas_keras zoo model")
    p.add_argument("--dataset", required=True, help="digits | fashion_mnist | cifar10 | cifar100 | imagenette | imagenet2012 | folder:/path")
    p.add_argument("--data-dir", help="where the dataset files are")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--batch-size", type=int, default=256)
    p.add_argument("--json", help="also write the result to this JSON file")
    args = p.parse_args(argv)

    import keras

    import tas_keras
    from tas_keras.data import DatasetUnavailable, build_dataset
    from tas_keras.training.checkpoint import atomic_json
    from tas_keras.training.runner import evaluate

    if not os.path.isfile(args.model):
        p.error(f"model file {args.model!r} does not exist")
    model = keras.saving.load_model(args.model)
    if not isinstance(model, tas_keras.Backbone):
        p.error(f"{args.model!r} holds a {type(model).__name__}, not a tas_keras zoo model")
    try:
        data, info = build_dataset(args.dataset, args.split, int(model.input_shape[1]), args.batch_size, data_dir=args.data_dir)
    except (ValueError, DatasetUnavailable) as err:
        p.error(str(err))
    if info.num_classes != int(model.output_shape[-1]):
        p.error(f"{args.model!r} predicts {model.output_shape[-1]} classes; {args.dataset} has {info.num_classes}")
    result = {"model": args.model, "dataset": args.dataset, "split": args.split, "examples": info.num_examples, **evaluate(model, data)}
    print(f"{args.model}: top-1 {100 * result['top1']:.2f}  top-5 {100 * result['top5']:.2f}  ({info.num_examples} {args.split} images of {args.dataset})")
    if args.json:
        atomic_json(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
