from tas_keras.methods.base import Method, register_method


@register_method("scratch")
class Scratch(Method):
    """The student alone: cross-entropy on the labels (the teacher is not run)."""

    uses_teacher = False

    def compute_losses(self, student_out, targets, labels, positive_offset=0, training=True):
        return self.ce_term(student_out, labels)
