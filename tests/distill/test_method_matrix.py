"""Every method fits every family pair (the pairs x methods matrix, its own file so that the test
processes share the suite evenly), and DKD's warm-up counter in the compiled step."""

import keras
import numpy as np
import pytest

import tas_keras
from tas_keras import Distiller

from ..quick import EAGER_IS_QUICKER
from .pairs import tiny, tiny_data

pytestmark = pytest.mark.core

FAMILIES = ("cnn", "vit", "mlp")
CROSS_ROTATION = (("cnn", "vit"), ("vit", "mlp"), ("mlp", "cnn"))


def jax_pair(method):
    """The one cross-family pair the JAX run fits `method` on: the methods take the three pairs in turn,
    so each family is teacher and student for a third of them (TensorFlow fits all 9 pairs)."""
    return CROSS_ROTATION[tas_keras.list_methods().index(method) % len(CROSS_ROTATION)]


@pytest.mark.parametrize("student_family", FAMILIES)
@pytest.mark.parametrize("teacher_family", FAMILIES)
@pytest.mark.parametrize("method", tas_keras.list_methods())
def test_every_method_fits_every_family_pair(method, teacher_family, student_family, seeded):
    # TensorFlow: eager keeps 90 fits cheap; the compiled (and XLA) step is tested on fewer pairs below.
    if keras.backend.backend() != "tensorflow" and (teacher_family, student_family) != jax_pair(method):
        pytest.skip("the JAX run fits each method on one cross-family pair, in turn (CI time); TensorFlow all 9")
    distiller = Distiller(tiny(teacher_family), tiny(student_family), method=method, xla=False)
    # SGD and one step of 4 images: eagerly, Adam's per-variable updates were half of each step's time.
    distiller.compile(optimizer=keras.optimizers.SGD(1e-2), run_eagerly=EAGER_IS_QUICKER)
    x, y = tiny_data(n=4)
    history = distiller.fit(x, y, batch_size=4, epochs=1, verbose=0).history
    assert set(distiller.loss_names) | {"acc", "top5"} == set(history)
    assert "loss_ce" in history
    for name, values in history.items():
        assert np.isfinite(values).all(), name
    total = sum(history[k][0] for k in distiller.loss_names if k.startswith("loss_"))  # not metrics (tas's fused_acc)
    assert history["loss"][0] == pytest.approx(total, rel=1e-4)


@pytest.mark.parametrize("xla", [False, True])
def test_dkd_warm_up_counts_the_training_steps_in_the_compiled_step(xla, seeded):
    """The ramp's step counter is a Distiller variable that the compiled train step advances (and
    evaluation does not), on every backend."""
    distiller = Distiller(tiny("cnn"), tiny("mlp"), method="dkd", warmup_steps=4, xla=xla)
    distiller.compile(optimizer=keras.optimizers.Adam(1e-3))
    x, y = tiny_data(n=12)
    assert float(keras.ops.convert_to_numpy(distiller.method.ramp())) == 0.0
    distiller.fit(x, y, batch_size=4, epochs=1, verbose=0)
    distiller.evaluate(x, y, batch_size=4, verbose=0)
    assert float(keras.ops.convert_to_numpy(distiller.method.steps_done)) == 3.0
    assert float(keras.ops.convert_to_numpy(distiller.method.ramp())) == pytest.approx(0.75)
