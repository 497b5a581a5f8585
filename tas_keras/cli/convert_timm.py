"""Convert a timm checkpoint into a zoo model saved as .keras (e.g. a teacher to fine-tune or distil from).

    python tools/convert_timm.py convnext_tiny.safetensors --model convnext_tiny --output teacher.keras
    python tools/convert_timm.py cifar100_swin_tiny.pth --model swin_tiny_patch4_window7_224 --num-classes 100 --output teacher.keras

With --num-classes different from the checkpoint's, the classifier is left initialised (to fine-tune);
with --image-size different from 224, ViT/DeiT position embeddings and Swin relative-position tables are
resized as timm resizes them (Mixer/ResMLP refuse: their token mixing is tied to the patch count).
`.safetensors` needs the safetensors package (pip install 'tas_keras[timm]'); `.pth` / `.bin` need torch.
(`tas-convert-timm` for an installed package.)
"""

import sys

from tas_keras.cli.common import ArgumentParser, count, quiet_tensorflow, run_cli
from tas_keras.errors import InputError


def _main(argv):
    p = ArgumentParser(prog="convert_timm.py", description=__doc__)
    p.add_argument("checkpoint", help="a timm state dict: .safetensors, .pth, .pt or .bin")
    p.add_argument("--model", required=True, help="the zoo model it belongs to (tas_keras.list_models(); timm's name)")
    p.add_argument("--num-classes", type=count(1), default=1000, help="classes of the converted model (default 1000, ImageNet)")
    p.add_argument("--image-size", type=count(1), help="input side of the converted model (default: the model's, 224)")
    p.add_argument("--output", required=True, help="the .keras file to write (written only if the whole checkpoint fits)")
    args = p.parse_args(argv)
    if not args.output.endswith(".keras"):
        raise InputError(f"--output {args.output!r} must end in .keras")

    import tas_keras
    from tas_keras.atomic import atomic_write

    model = tas_keras.create_model(args.model, num_classes=args.num_classes, image_size=args.image_size)
    report = tas_keras.load_timm_weights(model, args.checkpoint, strict=False)
    atomic_write(args.output, model.save)
    head = "loaded" if report["head"] == "loaded" else f"left initialised ({args.num_classes} classes: fine-tune before use)"
    resized = f"; resized {', '.join(report['resized'])}" if report["resized"] else ""
    print(f"{args.output}: {args.model}, {report['loaded']} variables from {args.checkpoint}; classifier {head}{resized}")
    return 0


def main(argv=None):
    quiet_tensorflow()
    return run_cli(_main, argv, prog="convert_timm.py")


if __name__ == "__main__":
    sys.exit(main())
