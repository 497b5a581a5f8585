import math

from keras import layers

from tas_keras.layers import pool_to_grid, tokens_to_map, trunc_normal
from tas_keras.losses import feature_mse, kd_loss
from tas_keras.methods import options as opt
from tas_keras.methods.base import Method, register_method, stage_by_name


def as_map(features, stage):
    return tokens_to_map(features, stage["num_prefix_tokens"]) if stage["layout"] == "tokens" else features


@register_method("fitnet")
class FitNet(Method):
    """Romero et al. 2015: CE + w_hint * MSE(regressor(student stage), teacher stage). Heterogeneous maps
    are first averaged to their largest common grid; a 1x1 conv regressor maps student channels to the
    teacher's."""

    defaults = {**Method.defaults, "w_hint": 1.0, "student_stage": "S4", "teacher_stage": "S4", "w_kd": 0.0, "temperature": 4.0}
    rules = {**Method.rules, "w_hint": opt.weight, "student_stage": opt.stage, "teacher_stage": opt.stage,
             "w_kd": opt.weight, "temperature": opt.positive}

    def __init__(self, pair, options=None, **kwargs):
        super().__init__(pair, options, **kwargs)
        size = self.pair["image_size"]
        self.student_stage = stage_by_name(self.pair["student_stages"], self.option("student_stage"), "student")
        self.teacher_stage = stage_by_name(self.pair["teacher_stages"], self.option("teacher_stage"), "teacher")
        self.grid = math.gcd(size // self.student_stage["reduction"], size // self.teacher_stage["reduction"])
        self.regressor = layers.Conv2D(self.teacher_stage["channels"], 1, kernel_initializer=trunc_normal(), name="regressor")
        self.regressor.build((None, self.grid, self.grid, self.student_stage["channels"]))

    def teacher_targets(self, teacher_out):
        hint = pool_to_grid(as_map(teacher_out[self.teacher_stage["name"]], self.teacher_stage), self.grid)
        return {"logits": teacher_out["logits"], "hint": hint}

    def compute_losses(self, student_out, targets, labels, positive_offset=0, training=True):
        student = pool_to_grid(as_map(student_out[self.student_stage["name"]], self.student_stage), self.grid)
        losses = {**self.ce_term(student_out, labels), "loss_hint": self.option("w_hint") * feature_mse(self.regressor(student), targets["hint"])}
        if self.option("w_kd"):
            losses["loss_kd"] = self.option("w_kd") * kd_loss(targets["logits"], student_out["logits"], self.option("temperature"))
        return losses
