"""Copies a teacher .keras without its optimizer state (inference only), checking the weights are equal."""
import os
import sys

sys.path.insert(0, "/work/study_tree")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402
import numpy as np  # noqa: E402

import tas_keras  # noqa: E402,F401  (registers the zoo's classes)

src, dst = sys.argv[1], sys.argv[2]
model = keras.saving.load_model(src, compile=False)
model.save(dst)
again = keras.saving.load_model(dst)
assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), again.get_weights(), strict=True))
print(dst, os.path.getsize(dst), "bytes; weights equal")
