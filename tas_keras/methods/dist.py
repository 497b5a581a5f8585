from tas_keras.losses import dist_loss
from tas_keras.methods import options as opt
from tas_keras.methods.base import Method, register_method


@register_method("dist")
class DIST(Method):
    """Huang et al. 2022: CE + T^2 * (beta * inter-class + gamma * intra-class) Pearson-correlation
    losses between softened predictions, see `tas_keras.losses.dist_loss`. Defaults are the paper's
    CIFAR-100 values (beta = gamma = 2, T = 4; ImageNet: 1, 1, 1).

    The intra-class term correlates each class's probabilities across the batch. Under tf.distribute
    each replica computes it on its own batch (the losses are then averaged over replicas), as the
    reference PyTorch code does under DistributedDataParallel; so 2 replicas of B images train like
    the mean of two B-image DIST losses, not like one 2B-image loss."""

    defaults = {**Method.defaults, "beta": 2.0, "gamma": 2.0, "temperature": 4.0}
    rules = {**Method.rules, "beta": opt.weight, "gamma": opt.weight, "temperature": opt.positive}

    def compute_losses(self, student_out, targets, labels, positive_offset=0, training=True):
        dist = dist_loss(targets["logits"], student_out["logits"], self.option("beta"), self.option("gamma"), self.option("temperature"))
        return {**self.ce_term(student_out, labels), "loss_dist": dist}
