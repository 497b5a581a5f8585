"""Run as a script, once per worker (TensorFlow only): two SGD steps of a distiller under
MultiWorkerMirroredStrategy from TF_CONFIG (a single local worker without it); saves the initial
and final weights of this worker and the rank of each batch's loss as callbacks saw it.

    [TF_CONFIG=...] python tests/distill/multi_worker_check.py OUT.npz
"""

import os
import sys

os.environ["KERAS_BACKEND"] = "tensorflow"
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

strategy = tf.distribute.MultiWorkerMirroredStrategy()

import keras  # noqa: E402

import tas_keras  # noqa: E402

with strategy.scope():
    keras.utils.set_random_seed(0)
    teacher = tas_keras.create_model("convnext_micro", num_classes=10, depths=[1, 1, 1, 1], dims=[16, 32, 64, 64])
    student = tas_keras.create_model("vit_micro_patch4_32", num_classes=10, embed_dim=32)
    distiller = tas_keras.Distiller(teacher, student, method="tas_branch", branch_grad_scale=0.5, xla=False)
    distiller.compile(optimizer=keras.optimizers.SGD(0.1))
start = [w.copy() for w in distiller.get_weights()]
rng = np.random.default_rng(0)
x = rng.uniform(size=(16, 32, 32, 3)).astype("float32")
y = rng.integers(0, 10, size=(16,))
ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)  # the global batch; each worker reads its shard
batch_loss_ranks = []
record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda _, logs: batch_loss_ranks.append(np.ndim(logs["loss"])))
distiller.fit(ds, epochs=1, verbose=0, callbacks=[record])
np.savez(sys.argv[1], replicas=strategy.num_replicas_in_sync, batch_loss_ranks=np.asarray(batch_loss_ranks),
         **{f"start_{i}": w for i, w in enumerate(start)},
         **{f"end_{i}": w for i, w in enumerate(distiller.get_weights())})
print("DONE", strategy.num_replicas_in_sync)
