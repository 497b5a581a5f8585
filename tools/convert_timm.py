"""Convert a timm checkpoint into a zoo .keras model (`python tools/convert_timm.py --help`). The code is
tas_keras.cli.convert_timm, installed with the package as the `tas-convert-timm` command."""

import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # before TensorFlow loads: see tas_keras.cli.common.quiet_tensorflow
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # run from a checkout

from tas_keras.cli.convert_timm import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
