import math

import keras
from keras import ops

from tas_keras.errors import InputError
from tas_keras.fusion import FUSIONS, L2GProjector, fusion_sides, stage_tail
from tas_keras.layers import dense, grid_side, scale_gradient
from tas_keras.losses import class_ids, cross_entropy, info_nce, ofa_loss
from tas_keras.methods import grad_scale
from tas_keras.methods import options as opt
from tas_keras.methods.base import Method, pooled_features, register_method

PAIRS = ("ts", "tf", "fs")  # teacher-student, teacher-fused, fused-student: the first of each is the target
MIN_TEMPERATURE, MAX_TEMPERATURE = 0.01, 1.0
# InfoNCE's negatives: every other image of the batch (from the paper: positives are the same image),
# or only those of other classes (our variant: with few classes, many negatives share the query's class).
NCE_NEGATIVES = ("all", "other_classes")


@register_method("tas")
class TAS(grad_scale.CalibratedGradScale, Method):
    """TAS as published at ICCV 2025 ("Fuse Before Transfer", FBT; arXiv 2410.12342 v2): a fused model
    (stages 1-3 of one model, an L2G projector, stage 4 + head of the other; see tas_keras.fusion)
    sits between teacher and student. Knowledge = globally average-pooled final features f and
    logits p of each model. For each pair (i, j) in teacher-student, teacher-fused, fused-student:

        w_ij * (w_nce * InfoNCE(proj_j(f_j), proj_i(f_i); tau) + w_ofa * OFA(p_i, p_j))

    plus the student's CE (w_ce) and, optionally, the fused model's CE (w_fce). From the paper: the
    three pairs, InfoNCE with a learnable temperature + the OFA loss on each, pooled features and
    logits only. Our reading (the text leaves them open): i is the target of each pair (gradients
    reach j only: the teacher for both of its pairs, the fused model for the fused-student pair);
    one linear projection to `nce_dim` per model, shared by its pairs; one temperature
    tau = exp(log_tau), initialised at `nce_temperature` and clamped to [0.01, 1]
    (`learn_temperature=False` keeps it fixed); every other image of the batch a negative
    (`nce_negatives="other_classes"`: only those of other classes); the OFA loss with eps=1 and
    temperature 1 as in OFA-KD; unit weights; no fused CE. The teacher's keys are gathered over replicas
    (global-batch negatives; with their labels for "other_classes"); the fused keys of the fused-student
    pair are the replica's own batch under tf.distribute.
    `nce_grad_scale` (our variant; 1.0 = the paper) multiplies the gradient the InfoNCE terms send into
    the student through its pooled features (the teacher-student and fused-student pairs; the student's
    projection trains in full): "auto" calibrates it once, on the first training batches, to
    min(1, own / pull) from the gradient norms of the student's own terms (CE, its two OFA terms) and of
    those two InfoNCE terms on the student weights both reach (see tas_keras.methods.grad_scale).
    The training log shows `fused_acc`, the fused model's accuracy on the training batches."""

    defaults = {
        **Method.defaults,
        "fusion": "auto",
        "w_ts": 1.0,
        "w_tf": 1.0,
        "w_fs": 1.0,
        "w_nce": 1.0,
        "w_ofa": 1.0,
        "w_fce": 0.0,
        "nce_dim": 256,
        "nce_temperature": 0.07,
        "learn_temperature": True,
        "nce_negatives": "all",
        "nce_grad_scale": 1.0,
        "eps": 1.0,
        "ofa_temperature": 1.0,
    }
    rules = {
        **Method.rules,
        "fusion": opt.one_of(*FUSIONS),
        "w_ts": opt.weight,
        "w_tf": opt.weight,
        "w_fs": opt.weight,
        "w_nce": opt.weight,
        "w_ofa": opt.weight,
        "w_fce": opt.weight,
        "nce_dim": opt.integer(1),
        "nce_temperature": opt.number(MIN_TEMPERATURE, MAX_TEMPERATURE),
        "learn_temperature": opt.boolean,
        "nce_negatives": opt.one_of(*NCE_NEGATIVES),
        "nce_grad_scale": grad_scale.RULE,
        "eps": opt.positive,
        "ofa_temperature": opt.positive,
    }
    global_targets = ("features",)
    scale_option, own_group, pull_group = "nce_grad_scale", "student", "nce"

    def __init__(self, pair, options=None, models=None, **kwargs):
        super().__init__(pair, options, **kwargs)
        if models is None:
            raise InputError("tas builds its fused model from the teacher and the student: Distiller passes them as `models`.")
        self.head_side, self.tail_side = fusion_sides(self.pair["teacher_family"], self.pair["student_family"], self.option("fusion"))
        head_model, tail_model = models[self.head_side], models[self.tail_side]
        head_stage = self.pair[f"{self.head_side}_stages"][2]
        tail_stages = self.pair[f"{self.tail_side}_stages"]
        target = tail_model.pyramid_outputs["S3"].shape
        target_layout, target_prefix = tail_stages[2]["layout"], tail_stages[2]["num_prefix_tokens"]
        self.projector = L2GProjector(head_stage["num_prefix_tokens"], grid_side(target, target_prefix), target[-1], target_layout, target_prefix,
                                      name="l2g_projector")
        self.projector.build(head_model.pyramid_outputs["S3"].shape)
        self.tail = stage_tail(tail_model, "S3")  # shares tail_model's variables
        # The student's stage 4 runs in the fused model in training mode (drop-path, dropout) unless it
        # holds state a training-mode pass updates (BatchNormalization's moving statistics): the fused
        # pass would move the student's statistics towards the projected features, and the student would
        # be evaluated with them (vit_resnet, fusion="teacher_first": 88.6% train, 10.0% test accuracy).
        # Such a stage 4 runs in inference mode there, normalised by the statistics of the student's own pass.
        self.tail_trains = self.tail_side == "student" and not self.tail.non_trainable_variables
        self.last = {"teacher": self.pair["teacher_stages"][-1], "student": self.pair["student_stages"][-1], "fused": tail_stages[-1]}
        dim = self.option("nce_dim")
        projections = {}
        for role in ("teacher", "student", "fused"):
            projections[role] = dense(dim, name=f"{role}_projection")
            projections[role].build((None, self.last[role]["channels"]))
        self.projections = projections
        if self.option("nce_negatives") == "other_classes":
            self.global_targets = ("features", "labels")  # the teacher keys' classes, gathered with them
        self.log_temperature = self.add_weight(
            shape=(), initializer=keras.initializers.Constant(math.log(self.option("nce_temperature"))),
            trainable=bool(self.option("learn_temperature")), name="log_temperature",
        )
        self.add_grad_scale()  # after log_temperature: older checkpoints hold that one alone

    def calibration_groups(self):
        return {"student": ["loss_ce", "loss_ofa_ts", "loss_ofa_fs"], "nce": ["loss_nce_ts", "loss_nce_fs"]}

    def temperature(self):
        return ops.clip(ops.exp(self.log_temperature), MIN_TEMPERATURE, MAX_TEMPERATURE)

    def _pooled(self, features, role):
        return pooled_features(features, self.last[role])

    def teacher_targets(self, teacher_out):
        targets = {"logits": teacher_out["logits"], "features": self._pooled(teacher_out["S4"], "teacher")}
        if self.head_side == "teacher":
            targets["S3"] = teacher_out["S3"]
        return targets

    def fused_forward(self, student_out, targets, training):
        """The fused model on this batch: {"S4", "logits"}; the teacher's parts run in inference mode."""
        source = targets["S3"] if self.head_side == "teacher" else student_out["S3"]
        projected = self.projector(source, training=training)
        return self.tail(projected, training=training and self.tail_trains)

    def compute_losses(self, student_out, targets, labels, positive_offset=0, training=True):
        fused = self.fused_forward(student_out, targets, training)
        logits = {"teacher": targets["logits"], "student": student_out["logits"], "fused": fused["logits"]}
        queries = {
            "student": self.projections["student"](scale_gradient(self._pooled(student_out["S4"], "student"), self.grad_scale_in_use())),
            "fused": self.projections["fused"](self._pooled(fused["S4"], "fused")),
        }
        keys = {"teacher": self.projections["teacher"](targets["features"]), "fused": ops.stop_gradient(queries["fused"])}
        tau = self.temperature()
        query_classes, key_classes = None, {"teacher": None, "fused": None}
        if self.option("nce_negatives") == "other_classes":
            num_classes = student_out["logits"].shape[-1]
            query_classes = class_ids(labels, num_classes)
            # the teacher's keys are the global batch's images when gathered over replicas, so their labels are too
            key_classes = {"teacher": class_ids(targets.get("labels", labels), num_classes), "fused": query_classes}
        losses = self.ce_term(student_out, labels)
        roles = {"t": "teacher", "f": "fused", "s": "student"}
        for pair in PAIRS:
            target, learner = roles[pair[0]], roles[pair[1]]
            offset = positive_offset if target == "teacher" else 0
            nce = info_nce(queries[learner], keys[target], tau, positive_offset=offset, classes=query_classes, key_classes=key_classes[target])
            target_logits = logits[target] if target == "teacher" else ops.stop_gradient(logits[target])
            ofa = ofa_loss(target_logits, logits[learner], labels, self.option("eps"), self.option("ofa_temperature"))
            losses[f"loss_nce_{pair}"] = self.option(f"w_{pair}") * self.option("w_nce") * nce
            losses[f"loss_ofa_{pair}"] = self.option(f"w_{pair}") * self.option("w_ofa") * ofa
        if self.option("w_fce"):
            losses["loss_fce"] = self.option("w_fce") * cross_entropy(labels, fused["logits"], self.option("label_smoothing"))
        losses["fused_acc"] = batch_accuracy(labels, fused["logits"])
        return losses


def batch_accuracy(labels, logits):
    """Top-1 accuracy of the batch (soft labels scored by their top class): a logged metric, not a loss."""
    predicted = ops.argmax(logits, axis=-1)
    if len(labels.shape) >= 2:
        labels = ops.argmax(labels, axis=-1)
    return ops.mean(ops.cast(ops.equal(ops.cast(labels, predicted.dtype), predicted), "float32"))
