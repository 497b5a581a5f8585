"""How many graphs torch.compile traces the compiled distill step of each pair in (Keras' torch backend).

    KERAS_BACKEND=torch python tools/torch_graph_breaks.py --profile small
    KERAS_BACKEND=torch python tools/torch_graph_breaks.py --pairs resnet34_resnet18 swin_resnet --method kd --json breaks.json

A step traced whole is 2 graphs (the forward with its backward, and the optimizer's update); each graph
break adds one, and the Python between them runs eagerly. For each pair it fits two steps of the
config's models (random init, random images) with the compiled step and reports the graphs, the breaks
and their reasons (PyTorch's own counters; TORCH_LOGS=graph_breaks shows where each one happened).
"""

import collections
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: see tas_keras.cli.common
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from tas_keras.atomic import atomic_json  # noqa: E402
from tas_keras.cli.common import ArgumentParser, count, run_cli  # noqa: E402
from tas_keras.errors import InputError  # noqa: E402


def parse_args(argv):
    from tas_keras.training.config import list_pairs

    p = ArgumentParser(description=__doc__)
    p.add_argument("--pairs", nargs="+", default=list_pairs(), help="pair configs (default: all)")
    p.add_argument("--profile", help="e.g. small (micro variants at 32x32)")
    p.add_argument("--method", default="tas", help="distillation method (default: tas)")
    p.add_argument("--batch-size", type=count(1), default=4)
    p.add_argument("--json", help="write the results to this JSON file")
    return p.parse_args(argv)


def count_graphs(pair, profile, method, batch):
    """{graphs, breaks, reasons: {first line of the reason: count}} of `pair`'s compiled distill step."""
    import numpy as np
    import torch._dynamo
    from benchmark import build_distiller
    from torch._dynamo.utils import counters

    from tas_keras.training.config import load_config

    config = load_config(pair, profile=profile)
    size = config.data.image_size
    torch._dynamo.reset()
    counters.clear()
    distiller = build_distiller(config, method, size, xla=True)
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2 * batch, size, size, 3), dtype="uint8")
    distiller.fit(x, rng.integers(0, 10, (2 * batch,)), batch_size=batch, epochs=1, verbose=0)
    reasons = collections.Counter()
    for reason, n in counters["graph_break"].items():
        reasons[reason.strip().splitlines()[0]] += n
    return {"graphs": counters["stats"]["unique_graphs"], "breaks": sum(reasons.values()), "reasons": dict(reasons.most_common())}


def _main(argv):
    import keras

    if keras.backend.backend() != "torch":
        raise InputError(f"torch_graph_breaks.py counts torch.compile's graphs; the Keras backend is {keras.backend.backend()!r}, "
                         "valid: 'torch' (set KERAS_BACKEND=torch).")
    args = parse_args(argv)
    report = {"profile": args.profile, "method": args.method, "keras": keras.__version__, "pairs": {}}
    for pair in args.pairs:
        result = report["pairs"][pair] = count_graphs(pair, args.profile, args.method, args.batch_size)
        print(f"{pair:20s} graphs {result['graphs']:3d}  breaks {result['breaks']:3d}", flush=True)
        for reason, n in result["reasons"].items():
            print(f"    {n:3d} x {reason}")
    if args.json:
        atomic_json(args.json, report)
    return 0


def main(argv=None):
    return run_cli(_main, argv)


if __name__ == "__main__":
    sys.exit(main())
