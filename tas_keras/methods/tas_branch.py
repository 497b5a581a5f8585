from tas_keras.assistant import MODULES, build_assistant, check_modules, default_modules
from tas_keras.errors import InputError
from tas_keras.layers import dense, scale_gradient, spatial_smooth
from tas_keras.losses import cross_entropy, feature_mse, info_nce, kd_loss
from tas_keras.methods import grad_scale
from tas_keras.methods import options as opt
from tas_keras.methods.base import Method, register_method, stage_by_name

FEATURE_LOSSES = ("nce", "mse")


def common_divisors(a, b):
    return [g for g in range(1, min(a, b) + 1) if a % g == 0 and b % g == 0]


@register_method("tas_branch")
class TASBranch(grad_scale.CalibratedGradScale, Method):
    """Our earlier design, kept to compare against the published `tas` (named tas_branch since the study of
    issue 15): CE + w_kd * KD(teacher, student) + for each hybrid assistant branching off a student stage:
    w_nce * InfoNCE(proj(smooth(assistant features)), proj(smooth(teacher last stage)))
    + w_akd * KD(teacher, assistant) + w_ace * CE(assistant, labels).

    `feature_loss="mse"` replaces InfoNCE by MSE to the smoothed teacher features (ablation);
    `modules` picks the assistant's modules (default: derived from the two families).
    `branch_grad_scale` multiplies the gradient the assistants send into the shared student stages:
    "auto" (default) calibrates it once, on the first training batches, so that the assistants pull
    those stages at most as hard as the student's own CE + KD (see `calibrate`); 1.0 is the plain
    formulation (the assistants' full gradient), 0.0 detaches them."""

    defaults = {
        **Method.defaults,
        "w_kd": 1.0,
        "temperature": 4.0,
        "branch_stages": ["S2"],
        "modules": None,
        "assistant_depth": 1,
        "w_nce": 1.0,
        "nce_temperature": 0.07,
        "nce_grid": 1,
        "nce_dim": 256,
        "symmetric": False,
        "feature_loss": "nce",
        "w_akd": 0.5,
        "w_ace": 0.5,
        "branch_grad_scale": "auto",
    }
    rules = {
        **Method.rules,
        "w_kd": opt.weight,
        "temperature": opt.positive,
        "branch_stages": opt.stages,
        "modules": opt.optional(opt.list_of(*MODULES)),
        "assistant_depth": opt.integer(1),
        "w_nce": opt.weight,
        "nce_temperature": opt.positive,
        "nce_grid": opt.integer(1),
        "nce_dim": opt.integer(1),
        "symmetric": opt.boolean,
        "feature_loss": opt.one_of(*FEATURE_LOSSES),
        "w_akd": opt.weight,
        "w_ace": opt.weight,
        "branch_grad_scale": grad_scale.RULE,
    }
    scale_option, own_group, pull_group = "branch_grad_scale", "student", "assistant"

    def __init__(self, pair, options=None, **kwargs):
        super().__init__(pair, options, **kwargs)
        self.add_grad_scale()
        self.global_targets = ("nce_keys",) if self.option("feature_loss") == "nce" else ()
        size, grid = self.pair["image_size"], self.option("nce_grid")
        self.teacher_last = self.pair["teacher_stages"][-1]
        modules = self.option("modules") or default_modules(self.pair["student_family"], self.pair["teacher_family"])
        self.module_order = check_modules(modules)
        self.stage_names = list(self.option("branch_stages"))
        if not self.stage_names:
            raise InputError("branch_stages must name at least one student stage (e.g. ['S2']).")
        self.assistants = [
            build_assistant(
                stage_by_name(self.pair["student_stages"], name, "student"),
                size,
                target_reduction=self.teacher_last["reduction"],
                target_channels=self.teacher_last["channels"],
                num_classes=self.pair["num_classes"],
                modules=self.module_order,
                depth=self.option("assistant_depth"),
                name=f"assistant_{name}",
            )
            for name in self.stage_names
        ]
        teacher_side = size // self.teacher_last["reduction"]
        key_dim = grid * grid * self.teacher_last["channels"]
        self.queries = []
        for assistant in self.assistants:
            side = assistant.output["features"].shape[1]
            if grid not in common_divisors(side, teacher_side):
                raise InputError(
                    f"nce_grid={grid} must divide both the assistant's {side}x{side} and the teacher's "
                    f"{teacher_side}x{teacher_side} last-stage maps; valid: {common_divisors(side, teacher_side)}."
                )
            out_dim = self.option("nce_dim") if self.option("feature_loss") == "nce" else key_dim
            query = dense(out_dim, name=f"{assistant.name}_query")
            query.build((None, grid * grid * assistant.output["features"].shape[-1]))
            self.queries.append(query)
        if self.option("feature_loss") == "nce":
            self.key = dense(self.option("nce_dim"), name="teacher_key")
            self.key.build((None, key_dim))

    def calibration_groups(self):
        assistant = [f"loss_{self.option('feature_loss')}", "loss_akd", "loss_ace"]
        return {"student": ["loss_ce", "loss_kd"], "assistant": assistant}

    def teacher_targets(self, teacher_out):
        last = self.teacher_last
        keys = spatial_smooth(teacher_out[last["name"]], self.option("nce_grid"), last["layout"], last["num_prefix_tokens"])
        return {"logits": teacher_out["logits"], "nce_keys": keys}

    def _feature_loss(self, query, keys, positive_offset):
        if self.option("feature_loss") == "mse":
            return feature_mse(query, keys)
        return info_nce(query, self.key(keys), self.option("nce_temperature"), self.option("symmetric"), positive_offset)

    def compute_losses(self, student_out, targets, labels, positive_offset=0, training=True):
        t = self.option("temperature")
        losses = {
            **self.ce_term(student_out, labels),
            "loss_kd": self.option("w_kd") * kd_loss(targets["logits"], student_out["logits"], t),
        }
        feature, akd, ace = 0.0, 0.0, 0.0
        for name, assistant, query in zip(self.stage_names, self.assistants, self.queries):
            branch = scale_gradient(student_out[name], self.grad_scale_in_use())
            out = assistant(branch, training=training)
            smoothed = spatial_smooth(out["features"], self.option("nce_grid"))
            feature = feature + self._feature_loss(query(smoothed), targets["nce_keys"], positive_offset)
            akd = akd + kd_loss(targets["logits"], out["logits"], t)
            ace = ace + cross_entropy(labels, out["logits"], self.option("label_smoothing"))
        losses[f"loss_{self.option('feature_loss')}"] = self.option("w_nce") * feature
        losses["loss_akd"] = self.option("w_akd") * akd
        losses["loss_ace"] = self.option("w_ace") * ace
        return losses
