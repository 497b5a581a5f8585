from tas_keras.assistant import build_assistant
from tas_keras.losses import ofa_loss
from tas_keras.methods import options as opt
from tas_keras.methods.base import Method, register_method, stage_by_name

# OFA-KD's projector per student family: separable convs for CNNs, transformer blocks for token models.
BRANCH_MODULES = {"cnn": ("conv", "mlp"), "vit": ("attn", "mlp"), "mlp": ("attn", "mlp")}


@register_method("ofa")
class OFA(Method):
    """Hao et al. 2023 (OFA-KD): branches on student stages project to logits; the OFA adaptive
    target loss is applied to the student's logits and to every branch's."""

    defaults = {**Method.defaults, "w_ofa": 1.0, "eps": 1.0, "temperature": 1.0, "branch_stages": ["S1", "S2", "S3"]}
    rules = {**Method.rules, "w_ofa": opt.weight, "eps": opt.positive, "temperature": opt.positive,
             "branch_stages": opt.list_of(*opt.STAGES, allow_empty=True)}

    def __init__(self, pair, options=None, **kwargs):
        super().__init__(pair, options, **kwargs)
        last = self.pair["teacher_stages"][-1]
        student_last = self.pair["student_stages"][-1]
        self.stage_names = list(self.option("branch_stages"))
        self.branches = [
            build_assistant(
                stage_by_name(self.pair["student_stages"], name, "student"),
                self.pair["image_size"],
                target_reduction=last["reduction"],
                target_channels=student_last["channels"],
                num_classes=self.pair["num_classes"],
                modules=BRANCH_MODULES[self.pair["student_family"]],
                name=f"ofa_branch_{name}",
            )
            for name in self.stage_names
        ]

    def _ofa(self, targets, logits, labels):
        return ofa_loss(targets["logits"], logits, labels, self.option("eps"), self.option("temperature"))

    def compute_losses(self, student_out, targets, labels, positive_offset=0, training=True):
        total = self._ofa(targets, student_out["logits"], labels)
        for name, branch in zip(self.stage_names, self.branches):
            total = total + self._ofa(targets, branch(student_out[name], training=training)["logits"], labels)
        return {**self.ce_term(student_out, labels), "loss_ofa": self.option("w_ofa") * total}
