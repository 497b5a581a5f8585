from tas_keras.losses import kd_loss
from tas_keras.methods import options as opt
from tas_keras.methods.base import Method, register_method


@register_method("kd")
class KD(Method):
    """Hinton et al. 2015: CE + w_kd * KL(teacher || student) at temperature T, times T^2."""

    defaults = {**Method.defaults, "w_kd": 1.0, "temperature": 4.0}
    rules = {**Method.rules, "w_kd": opt.weight, "temperature": opt.positive}

    def compute_losses(self, student_out, targets, labels, positive_offset=0, training=True):
        kd = kd_loss(targets["logits"], student_out["logits"], self.option("temperature"))
        return {**self.ce_term(student_out, labels), "loss_kd": self.option("w_kd") * kd}
