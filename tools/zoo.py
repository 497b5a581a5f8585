"""Prints the model zoo: family, trainable parameters and the four stage features of every model.

    python tools/zoo.py                      # all models at their default size, 1000 classes
    python tools/zoo.py --image-size 32 --family mlp --num-classes 10
"""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: see tas_keras.cli.common

import numpy as np  # noqa: E402

import tas_keras  # noqa: E402
from tas_keras.cli.common import ArgumentParser, count  # noqa: E402
from tas_keras.models.applications import application_names  # noqa: E402


def stage_summary(info, image_size):
    parts = []
    for stage in info:
        side = image_size // stage["reduction"]
        shape = f"{side}x{side}x{stage['channels']}"
        if stage["layout"] == "tokens":
            shape = f"{stage['num_prefix_tokens'] + side * side} tokens x {stage['channels']}"
        parts.append(f"{stage['name']} /{stage['reduction']} {shape}")
    return "; ".join(parts)


def main(argv=None):
    parser = ArgumentParser(description=__doc__)
    parser.add_argument("--family", choices=["cnn", "vit", "mlp"], help="only this family")
    parser.add_argument("--image-size", type=int, default=None, help="input side (default: each model's own)")
    parser.add_argument("--num-classes", type=count(1), default=1000)
    args = parser.parse_args(argv)

    rows = []
    for name in tas_keras.list_models(args.family):
        try:
            model = tas_keras.create_model(name, num_classes=args.num_classes, image_size=args.image_size)
        except ValueError as err:
            parser.error(str(err))
        size = model.input_shape[1]
        params = int(sum(np.prod(w.shape) for w in model.trainable_weights))
        rows.append((name, tas_keras.model_family(name), size, params, stage_summary(tas_keras.feature_info(model), size)))
    width = max(len(r[0]) for r in rows)
    print(f"{'model':<{width}}  family  size  params      stages (reduction, shape)")
    for name, family, size, params, stages in rows:
        print(f"{name:<{width}}  {family:<6}  {size:>4}  {params:>10,}  {stages}")
    if args.family in (None, "cnn"):
        print(f"\nAlso by name in configs and create_model (cnn): {', '.join(application_names())}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
