"""Command-line entry points (`tas-train`, `tas-evaluate`; `python -m tas_keras.cli.train`). The
scripts in tools/ call these, so a checkout and an installed wheel run the same code."""
