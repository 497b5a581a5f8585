import sys, shutil
tree, name = sys.argv[1], sys.argv[2]
shutil.copy('/work/main/tas_keras/methods/grad_scale.py', f'{tree}/tas_keras/methods/grad_scale.py')
p=f'{tree}/tas_keras/methods/{name}.py'
s=open(p).read()
def rep(a,b):
    global s
    assert a in s, a
    s=s.replace(a,b,1)
rep("from tas_keras.layers import dense, grid_side\n","from tas_keras.layers import dense, grid_side, scale_gradient\n")
rep("from tas_keras.methods import options as opt\n","from tas_keras.methods import grad_scale\nfrom tas_keras.methods import options as opt\n")
rep("(Method):","(grad_scale.CalibratedGradScale, Method):")
rep('''        "eps": 1.0,''','''        "nce_grad_scale": 1.0,
        "eps": 1.0,''')
rep('''        "eps": opt.positive,''','''        "nce_grad_scale": grad_scale.RULE,
        "eps": opt.positive,''')
rep('''    global_targets = ("features",)
''','''    global_targets = ("features",)
    scale_option, own_group, pull_group = "nce_grad_scale", "student", "nce"
''')
old='''            trainable=bool(self.option("learn_temperature")), name="log_temperature",
        )
'''
rep(old, old+"        self.add_grad_scale()\n")
rep('''    def temperature(self):''','''    def calibration_groups(self):
        return {"student": ["loss_ce", "loss_ofa_ts", "loss_ofa_fs"], "nce": ["loss_nce_ts", "loss_nce_fs"]}

    def temperature(self):''')
rep('''            "student": self.projections["student"](self._pooled(student_out["S4"], "student")),''',
'''            "student": self.projections["student"](scale_gradient(self._pooled(student_out["S4"], "student"), self.grad_scale_in_use())),''')
open(p,'w').write(s)
