from tas_keras.layers import dense, gelu
from tas_keras.losses import cross_correlation_loss, kd_loss
from tas_keras.methods import options as opt
from tas_keras.methods.base import Method, pooled_features, register_method


@register_method("rsd")
class RSD(Method):
    """RSD (ICCV 2025), as far as its description goes: CE + w_kd * KD(T) + w_cc * a Barlow-Twins
    cross-correlation loss between the teacher's penultimate embedding and the student's, mapped to the
    teacher's width by a small MLP adapter (Linear -> GELU -> Linear, `adapter_dim` wide); see
    `tas_keras.losses.cross_correlation_loss` for the formula. Embeddings are the globally average-pooled
    last-stage features (class tokens dropped). The adapter's shape, the weights and the 1/D normalisation
    are our reading (its code was not reachable from here); lambda = 5e-3 is Barlow Twins'.

    The cross-correlation standardises over the batch: under tf.distribute each replica uses its own
    batch (as DIST's intra-class term does)."""

    defaults = {**Method.defaults, "w_cc": 1.0, "off_diagonal_weight": 5e-3, "adapter_dim": 512, "w_kd": 1.0, "temperature": 4.0}
    rules = {**Method.rules, "w_cc": opt.weight, "off_diagonal_weight": opt.weight, "adapter_dim": opt.integer(1),
             "w_kd": opt.weight, "temperature": opt.positive}

    def __init__(self, pair, options=None, **kwargs):
        super().__init__(pair, options, **kwargs)
        self.student_last, self.teacher_last = self.pair["student_stages"][-1], self.pair["teacher_stages"][-1]
        self.adapter_in = dense(self.option("adapter_dim"), name="adapter_fc1")
        self.adapter_in.build((None, self.student_last["channels"]))
        self.adapter_out = dense(self.teacher_last["channels"], name="adapter_fc2")
        self.adapter_out.build((None, self.option("adapter_dim")))

    def teacher_targets(self, teacher_out):
        return {"logits": teacher_out["logits"], "embedding": pooled_features(teacher_out["S4"], self.teacher_last)}

    def compute_losses(self, student_out, targets, labels, positive_offset=0, training=True):
        student = pooled_features(student_out["S4"], self.student_last)
        projected = self.adapter_out(gelu(self.adapter_in(student)))
        cc = cross_correlation_loss(projected, targets["embedding"], self.option("off_diagonal_weight"))
        kd = kd_loss(targets["logits"], student_out["logits"], self.option("temperature"))
        return {**self.ce_term(student_out, labels), "loss_cc": self.option("w_cc") * cc, "loss_kd": self.option("w_kd") * kd}
