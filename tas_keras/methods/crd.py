import math

import keras
from keras import ops

from tas_keras.layers import dense
from tas_keras.losses import crd_nce_loss, crd_noise_scale, kd_loss
from tas_keras.methods import options as opt
from tas_keras.methods.base import Method, pooled_features, register_method


@register_method("crd")
class CRD(Method):
    """Contrastive representation distillation (Tian et al., ICLR 2020): CE + w_crd * (NCE(student
    anchors vs teacher memory) + NCE(teacher anchors vs student memory)) [+ w_kd * KD(T)], see
    `tas_keras.losses.crd_nce_loss`. From the paper: linear embeddings of the pooled penultimate
    features (both trained; the teacher's backbone stays frozen), l2-normalised to `feat_dim` 128,
    K = 16384 negatives, T = 0.07, w_crd = 0.8, z estimated on the first batch and kept, memories
    initialised uniform in +-1/sqrt(D/3), negatives drawn before the memory is updated. `w_kd=0` is
    the paper's "CRD"; `w_kd>0` its "CRD+KD".

    Our reading: the memory is a queue of the last `nce_k` embeddings of each side (written after each
    step, oldest first out) instead of CRD's index-addressed bank (momentum 0.5, K entries sampled per
    image from the whole dataset), so the input pipeline needs no example indices; the positive is the
    other side's current (detached) embedding instead of its bank entry. Memory and z are variables of
    the Distiller, saved and resumed with it.

    Replicas: under tf.distribute each replica keeps its own memory and z (variables with aggregation
    "none", like BatchNorm's statistics), written with its own images' embeddings, and scores its own
    images against it; checkpoints save the first replica's copy, which every replica starts from when
    resumed. Under JAX DataParallel the step sees the global batch (one memory)."""

    defaults = {**Method.defaults, "w_crd": 0.8, "feat_dim": 128, "nce_k": 16384, "nce_temperature": 0.07, "w_kd": 0.0, "temperature": 4.0}
    rules = {**Method.rules, "w_crd": opt.weight, "feat_dim": opt.integer(1), "nce_k": opt.integer(1), "nce_temperature": opt.positive,
             "w_kd": opt.weight, "temperature": opt.positive}

    def __init__(self, pair, options=None, **kwargs):
        super().__init__(pair, options, **kwargs)
        self.student_last, self.teacher_last = self.pair["student_stages"][-1], self.pair["teacher_stages"][-1]
        dim, k = self.option("feat_dim"), self.option("nce_k")
        self.embed_student = dense(dim, name="embed_student")
        self.embed_student.build((None, self.student_last["channels"]))
        self.embed_teacher = dense(dim, name="embed_teacher")
        self.embed_teacher.build((None, self.teacher_last["channels"]))
        bound = 1.0 / math.sqrt(dim / 3.0)
        state = {"trainable": False}  # aggregation "none": one copy per replica, as BatchNorm statistics
        self.memory_student = self.add_weight(shape=(k, dim), initializer=keras.initializers.RandomUniform(-bound, bound), name="memory_student", **state)
        self.memory_teacher = self.add_weight(shape=(k, dim), initializer=keras.initializers.RandomUniform(-bound, bound), name="memory_teacher", **state)
        self.write_position = self.add_weight(shape=(), dtype="int32", initializer="zeros", name="write_position", **state)
        self.z_student = self.add_weight(shape=(), initializer="zeros", name="z_student_anchor", **state)
        self.z_teacher = self.add_weight(shape=(), initializer="zeros", name="z_teacher_anchor", **state)

    def teacher_targets(self, teacher_out):
        return {"logits": teacher_out["logits"], "embedding": pooled_features(teacher_out["S4"], self.teacher_last)}

    def _noise_scale(self, z, anchor, positive, memory, training):
        """z once estimated, else this batch's estimate (kept when training)."""
        temperature = self.option("nce_temperature")
        kept = ops.copy(z)
        # where, not cond: one code path on every backend; the estimate (one B x K product) is cheap next to the loss
        value = ops.where(kept > 0, kept, crd_noise_scale(anchor, positive, memory, temperature))
        value = ops.stop_gradient(value)
        if training:
            z.assign(value)
        return value

    def _remember(self, student, teacher):
        k = self.option("nce_k")
        start = ops.convert_to_tensor(self.write_position)
        rows = ops.expand_dims((start + ops.arange(ops.shape(student)[0], dtype="int32")) % k, -1)
        self.memory_student.assign(ops.scatter_update(self.memory_student, rows, student))
        self.memory_teacher.assign(ops.scatter_update(self.memory_teacher, rows, teacher))
        self.write_position.assign((start + ops.shape(student)[0]) % k)

    def compute_losses(self, student_out, targets, labels, positive_offset=0, training=True):
        normalize = lambda x: ops.normalize(ops.cast(x, "float32"), axis=-1)  # float32 under mixed precision too
        student = normalize(self.embed_student(pooled_features(student_out["S4"], self.student_last)))
        teacher = normalize(self.embed_teacher(targets["embedding"]))
        student_fixed, teacher_fixed = ops.stop_gradient(student), ops.stop_gradient(teacher)
        temperature = self.option("nce_temperature")
        # copies: the step writes the memories (and z) after scoring against them, and torch's autograd
        # refuses a backward through a tensor modified in place since
        memory_s, memory_t = ops.copy(self.memory_student), ops.copy(self.memory_teacher)
        z_s = self._noise_scale(self.z_student, student, teacher_fixed, memory_t, training)
        z_t = self._noise_scale(self.z_teacher, teacher, student_fixed, memory_s, training)
        crd = crd_nce_loss(student, teacher_fixed, memory_t, z_s, temperature) + crd_nce_loss(teacher, student_fixed, memory_s, z_t, temperature)
        if training:
            self._remember(student_fixed, teacher_fixed)
        losses = {**self.ce_term(student_out, labels), "loss_crd": self.option("w_crd") * crd}
        if self.option("w_kd"):
            losses["loss_kd"] = self.option("w_kd") * kd_loss(targets["logits"], student_out["logits"], self.option("temperature"))
        return losses
