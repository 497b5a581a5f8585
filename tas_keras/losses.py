"""Distillation losses as pure functions on keras.ops (every backend), plus thin keras.Loss wrappers.

Each function returns the mean over the batch, or per-sample values with `reduction="none"`: the
Distiller averages per-sample values itself so that multi-replica training scales them correctly.
"""

import numbers

import keras
from keras import ops

from tas_keras.errors import InputError
from tas_keras.serialization import PACKAGE

REDUCTIONS = ("mean", "none")


def _reduce(per_sample, reduction):
    if reduction not in REDUCTIONS:
        raise InputError(f"reduction must be one of {REDUCTIONS}; got {reduction!r}.")
    return ops.mean(per_sample) if reduction == "mean" else per_sample


def _float32(*tensors):
    """Losses are computed in float32 whatever the model's dtype policy (mixed precision)."""
    return [ops.cast(t, "float32") for t in tensors]


def _check_temperature(temperature, what="temperature"):
    """A number must be > 0; a tensor (a learned temperature) is kept positive by its owner."""
    if isinstance(temperature, numbers.Real) and not temperature > 0:
        raise InputError(f"{what} must be > 0; got {temperature!r}.")


def _soft(labels, num_classes):
    """Whether labels are (B, K) class probabilities (mixup / cutmix) rather than integer classes."""
    return len(labels.shape) >= 2 and labels.shape[-1] == num_classes and num_classes > 1


def _classes(labels):
    """Integer labels (B,) or (B, 1) as a flat int32 (B,)."""
    return ops.reshape(ops.cast(labels, "int32"), (-1,))


def as_probabilities(labels, num_classes, dtype="float32"):
    """Integer labels (B,) or (B, 1) -> one-hot; (B, K) soft labels (mixup / cutmix) pass through."""
    if _soft(labels, num_classes):
        return ops.cast(labels, dtype)
    return ops.one_hot(_classes(labels), num_classes, dtype=dtype)


def class_ids(labels, num_classes):
    """(B,) int32 classes of integer labels, or of soft labels (mixup / cutmix) their arg-max class."""
    if _soft(labels, num_classes):
        return ops.cast(ops.argmax(labels, axis=-1), "int32")
    return _classes(labels)


def hard_one_hot(labels, logits):
    """One-hot of the label class; soft labels (mixup / cutmix) count as their arg-max class."""
    num_classes = logits.shape[-1]
    return ops.one_hot(class_ids(labels, num_classes), num_classes, dtype=logits.dtype)


def cross_entropy(labels, logits, label_smoothing=0.0, reduction="mean"):
    """Softmax cross-entropy against integer or soft labels, with optional label smoothing."""
    (logits,) = _float32(logits)
    num_classes = logits.shape[-1]
    target = as_probabilities(labels, num_classes, logits.dtype)
    if label_smoothing:
        target = target * (1.0 - label_smoothing) + label_smoothing / num_classes
    per_sample = -ops.sum(target * ops.log_softmax(logits, axis=-1), axis=-1)
    if not _soft(labels, num_classes):
        # A class outside [0, num_classes) one-hot encodes to all zeros, a loss of 0 that trains silently
        # against nothing; NaN instead, as TensorFlow's sparse cross-entropy gives on GPUs.
        classes = _classes(labels)
        per_sample = ops.where((classes >= 0) & (classes < num_classes), per_sample, float("nan"))
    return _reduce(per_sample, reduction)


def kd_loss(teacher_logits, student_logits, temperature=4.0, reduction="mean"):
    """KL(softmax(t / T) || softmax(s / T)) * T^2 (Hinton et al. 2015), on logits, not probabilities."""
    _check_temperature(temperature)
    teacher_logits, student_logits = _float32(teacher_logits, student_logits)
    log_t = ops.log_softmax(teacher_logits / temperature, axis=-1)
    log_s = ops.log_softmax(student_logits / temperature, axis=-1)
    per_sample = ops.sum(ops.exp(log_t) * (log_t - log_s), axis=-1) * (temperature**2)
    return _reduce(per_sample, reduction)


def info_nce(query, key, temperature=0.07, symmetric=False, positive_offset=0, reduction="mean", classes=None, key_classes=None):
    """InfoNCE between (B, D) queries and (K, D) keys, K >= B; the positive of query i is key
    `positive_offset + i` (the teacher feature of the same image), every other key is a negative.

    Both sides are L2-normalised. `symmetric` adds the key -> query direction (needs K == B).
    Keys may hold more images than the queries (e.g. gathered from other replicas).
    classes, key_classes: the (B,) integer classes of the queries' images and the (K,) ones of the keys'
    images, or None. Given, the keys of other images of the query's class are left out of its negatives.
    """
    _check_temperature(temperature)
    q, k = (ops.normalize(t, axis=-1, epsilon=1e-12) for t in _float32(query, key))
    logits = ops.matmul(q, ops.transpose(k)) / temperature  # (B, K)
    batch = ops.shape(q)[0]
    positives = ops.arange(batch) + positive_offset
    if classes is not None:
        same_class = ops.equal(ops.expand_dims(_classes(classes), 1), ops.expand_dims(_classes(key_classes), 0))
        other_image = ops.not_equal(ops.expand_dims(positives, 1), ops.expand_dims(ops.arange(ops.shape(k)[0]), 0))
        logits = ops.where(ops.logical_and(same_class, other_image), -1e9, logits)
    per_sample = -ops.take_along_axis(
        ops.log_softmax(logits, axis=-1), ops.expand_dims(positives, -1), axis=-1
    )[:, 0]
    if symmetric:
        if key.shape[0] is not None and query.shape[0] is not None and key.shape[0] != query.shape[0]:
            raise InputError(f"symmetric InfoNCE needs as many keys as queries; got {key.shape[0]} and {query.shape[0]}.")
        reverse = -ops.diagonal(ops.log_softmax(ops.transpose(logits), axis=-1))
        per_sample = 0.5 * (per_sample + reverse)
    return _reduce(per_sample, reduction)


def ofa_loss(teacher_logits, student_logits, labels, eps=1.0, temperature=1.0, reduction="mean"):
    """OFA-KD's adaptive target loss: -sum(((p_t + onehot)^eps - onehot) * log p_s).

    Soft labels (mixup / cutmix) are reduced to their arg-max class, as OFA does with hard targets.
    """
    _check_temperature(temperature)
    teacher_logits, student_logits = _float32(teacher_logits, student_logits)
    onehot = hard_one_hot(labels, student_logits)
    p_t = ops.softmax(teacher_logits / temperature, axis=-1)
    log_p_s = ops.log_softmax(student_logits / temperature, axis=-1)
    weights = ops.power(p_t + onehot, eps) - onehot
    per_sample = -ops.sum(weights * log_p_s, axis=-1)
    return _reduce(per_sample, reduction)


def feature_mse(student_features, teacher_features, reduction="mean"):
    """FitNet's hint loss: mean squared error per sample over all feature elements."""
    student_features, teacher_features = _float32(student_features, teacher_features)
    diff = ops.reshape(ops.square(student_features - teacher_features), (ops.shape(student_features)[0], -1))
    return _reduce(ops.mean(diff, axis=-1), reduction)


def dkd_loss(teacher_logits, student_logits, labels, alpha=1.0, beta=8.0, temperature=4.0, reduction="mean"):
    """Decoupled KD (Zhao et al. 2022): alpha * TCKD + beta * NCKD, each times T^2, where with
    p = softmax(z / T), g the target class and b = [p_g, 1 - p_g]:
        TCKD = KL(b_t || b_s),
        NCKD = KL(softmax(z_t / T - 1000 * onehot) || softmax(z_s / T - 1000 * onehot))
    (the non-target classes renormalised among themselves; the -1000 mask is mdistiller's).
    Soft labels are reduced to their arg-max class."""
    _check_temperature(temperature)
    teacher_logits, student_logits = _float32(teacher_logits, student_logits)
    onehot = hard_one_hot(labels, student_logits)
    p_t = ops.softmax(teacher_logits / temperature, axis=-1)
    p_s = ops.softmax(student_logits / temperature, axis=-1)
    gold_t, gold_s = ops.sum(p_t * onehot, axis=-1), ops.sum(p_s * onehot, axis=-1)
    b_t = ops.stack([gold_t, 1.0 - gold_t], axis=-1)
    b_s = ops.clip(ops.stack([gold_s, 1.0 - gold_s], axis=-1), 1e-12, 1.0)  # log of a saturated softmax
    tckd = ops.sum(b_t * (ops.log(ops.clip(b_t, 1e-12, 1.0)) - ops.log(b_s)), axis=-1)
    log_nt = ops.log_softmax(teacher_logits / temperature - 1000.0 * onehot, axis=-1)
    log_ns = ops.log_softmax(student_logits / temperature - 1000.0 * onehot, axis=-1)
    nckd = ops.sum(ops.exp(log_nt) * (log_nt - log_ns), axis=-1)
    return _reduce((alpha * tckd + beta * nckd) * temperature**2, reduction)


def _pearson_rows(a, b, eps=1e-8):
    """Pearson correlation of each row of a with the same row of b."""
    a = a - ops.mean(a, axis=-1, keepdims=True)
    b = b - ops.mean(b, axis=-1, keepdims=True)
    return ops.sum(a * b, axis=-1) / (ops.norm(a, axis=-1) * ops.norm(b, axis=-1) + eps)


def dist_loss(teacher_logits, student_logits, beta=2.0, gamma=2.0, temperature=4.0):
    """DIST (Huang et al. 2022), with y = softmax(z / T) of shape (B, K):
        T^2 * (beta * (1 - mean_b pearson(y_s[b, :], y_t[b, :]))      inter-class, per image
               + gamma * (1 - mean_k pearson(y_s[:, k], y_t[:, k])))   intra-class, per class over the batch
    The intra-class term correlates across the batch, so it is a batch-level value (no per-sample form):
    under tf.distribute each replica uses its own batch (see the dist method)."""
    _check_temperature(temperature)
    teacher_logits, student_logits = _float32(teacher_logits, student_logits)
    y_t = ops.softmax(teacher_logits / temperature, axis=-1)
    y_s = ops.softmax(student_logits / temperature, axis=-1)
    inter = 1.0 - ops.mean(_pearson_rows(y_s, y_t))
    intra = 1.0 - ops.mean(_pearson_rows(ops.transpose(y_s), ops.transpose(y_t)))
    return temperature**2 * (beta * inter + gamma * intra)


def cross_correlation_loss(student_embedding, teacher_embedding, off_diagonal_weight=5e-3, eps=1e-5):
    """Barlow-Twins redundancy reduction between two (B, D) embeddings: each dimension standardised over
    the batch, C = z_s^T z_t / B (D x D), loss = (sum_i (1 - C_ii)^2 + lambda * sum_{i != j} C_ij^2) / D.
    The division by D (ours) keeps the value O(1) whatever the width. Batch-level, like DIST's intra term."""
    z_s, z_t = _float32(student_embedding, teacher_embedding)

    def standardise(z):
        z = z - ops.mean(z, axis=0, keepdims=True)
        return z / ops.sqrt(ops.mean(ops.square(z), axis=0, keepdims=True) + eps)

    z_s, z_t = standardise(z_s), standardise(z_t)
    batch = ops.cast(ops.shape(z_s)[0], "float32")
    c = ops.matmul(ops.transpose(z_s), z_t) / batch
    diagonal = ops.diagonal(c)
    on = ops.sum(ops.square(1.0 - diagonal))
    off = ops.sum(ops.square(c)) - ops.sum(ops.square(diagonal))
    return (on + off_diagonal_weight * off) / ops.cast(ops.shape(c)[0], "float32")


def crd_nce_loss(anchor, positive, negatives, noise_scale, temperature=0.07, reduction="mean"):
    """One direction of CRD's NCE objective (Tian et al., ICLR 2020, eq. 18-19 as in their code): for
    l2-normalised anchors a_i (B, D), their positives p_i (B, D) and K negatives n_j (K, D), with
    e(a, v) = exp(a . v / T) and the noise term K * z,
        h(a, v) = e(a, v) / (e(a, v) + K * z),
        loss_i = -log h(a_i, p_i) - sum_j log(1 - h(a_i, n_j)).
    z (`noise_scale`) is CRD's normalisation constant Z times the noise probability 1/M, i.e. the mean of
    e over the first batch's positive and negative pairs (CRD: Z = mean * M, P_n = 1/M; M cancels).
    Computed in log space (CRD adds eps = 1e-7 to the denominators instead)."""
    a, p, n = _float32(anchor, positive, negatives)
    log_noise = ops.log(ops.multiply(ops.cast(noise_scale, "float32"), ops.cast(ops.shape(n)[0], "float32")))
    pos = ops.sum(a * p, axis=-1) / temperature  # (B,)
    neg = ops.matmul(a, ops.transpose(n)) / temperature  # (B, K)
    log_h_pos = pos - ops.logaddexp(pos, log_noise)
    log_not_h_neg = log_noise - ops.logaddexp(neg, log_noise)
    return _reduce(-(log_h_pos + ops.sum(log_not_h_neg, axis=-1)), reduction)


def crd_noise_scale(anchor, positive, negatives, temperature=0.07):
    """CRD's estimate of z for `crd_nce_loss`: the mean of exp(a . v / T) over the B x (1 + K) positive
    and negative pairs of a batch (CRD takes it from the first batch and keeps it)."""
    a, p, n = _float32(anchor, positive, negatives)
    pos = ops.exp(ops.sum(a * p, axis=-1) / temperature)
    neg = ops.exp(ops.matmul(a, ops.transpose(n)) / temperature)
    return ops.divide(ops.sum(pos) + ops.sum(neg), ops.cast(ops.shape(a)[0] * (1 + ops.shape(n)[0]), "float32"))


@keras.saving.register_keras_serializable(package=PACKAGE)
class KDLoss(keras.losses.Loss):
    """keras.Loss wrapper of `kd_loss`: call(teacher_logits, student_logits)."""

    def __init__(self, temperature=4.0, name="kd_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        _check_temperature(temperature)
        self.temperature = float(temperature)

    def call(self, y_true, y_pred):
        return kd_loss(y_true, y_pred, self.temperature, reduction="none")

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature}


@keras.saving.register_keras_serializable(package=PACKAGE)
class InfoNCELoss(keras.losses.Loss):
    """keras.Loss wrapper of `info_nce`: call(key, query) with row i of each a positive pair."""

    def __init__(self, temperature=0.07, symmetric=False, name="info_nce", **kwargs):
        super().__init__(name=name, **kwargs)
        _check_temperature(temperature)
        self.temperature = float(temperature)
        self.symmetric = bool(symmetric)

    def call(self, y_true, y_pred):
        return info_nce(y_pred, y_true, self.temperature, self.symmetric, reduction="none")

    def get_config(self):
        return {**super().get_config(), "temperature": self.temperature, "symmetric": self.symmetric}


@keras.saving.register_keras_serializable(package=PACKAGE)
class ClassificationLoss(keras.losses.Loss):
    """keras.Loss wrapper of `cross_entropy`: integer or soft (mixup) labels, optional label smoothing."""

    def __init__(self, label_smoothing=0.0, name="classification_loss", **kwargs):
        super().__init__(name=name, **kwargs)
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        return cross_entropy(y_true, y_pred, self.label_smoothing, reduction="none")

    def get_config(self):
        return {**super().get_config(), "label_smoothing": self.label_smoothing}
