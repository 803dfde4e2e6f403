"""Null submissions for topic 12: what a student could hand in without the topic.

Each replaces one answer cell, whole (``source``) or by ``find``/``replace``; graded like a
mutant, none may earn a point of a quality-graded test cell of its task (`genlab check 12`,
tests/test_nulls.py). The one quality-graded cell is Task 3's (test_control_hidden: IoU of
controlled samples with the masks, colour accuracy), which samples the frozen base model with the
student's control_fn and ControlNet module carrying the shipped weights. Tasks 1 and 2 are graded
by exact values and mocks (no quality bar): training a ControlNet until it follows its condition
takes ~1000 steps of batch 32 (the `cpu` profile), far beyond the `ci` budget, so the training nulls
(one step, a loss term dropped, the shipped model instead of one's own) have no quality bar to earn
in that task; their control_fn counterparts are below.
"""
CONTROL_RETURN = "        return controlnet(x, t, cond, hints, scale)"
CONTROL_START = "    def control(x: Tensor, t: Tensor, cond: Tensor) -> list[Tensor]:\n"

NULLS = [
    dict(name="control-copies-hint", cell="control", kind="copy of the input",
         find=CONTROL_RETURN,
         replace="        return [scale * 2.0 * F.interpolate(hints, size=r.shape[-2:]).expand_as(r)\n"
                 "                for r in controlnet(x, t, cond, hints, 0.0)]",
         why="no ControlNet: the mask itself, resized, is painted into every skip connection"),
    dict(name="control-untrained", cell="control", kind="untrained network",
         find=CONTROL_START,
         replace="    controlnet = ControlNet(BASE.unet).to(hint.device)    # a new, zero-initialised one\n" + CONTROL_START,
         why="a new (zero-initialised) ControlNet instead of the trained one it was given: residuals 0"),
    dict(name="control-few-steps", cell="control", kind="one training step",
         find=CONTROL_START,
         replace="    controlnet = globals()['controlnet']    # the notebook's own, ci: 6 training steps\n" + CONTROL_START,
         why="the ControlNet the notebook trained for a few steps (6 in ci) instead of the one it was given"),
    dict(name="control-scale-zero", cell="control", kind="control scale 0",
         find=CONTROL_RETURN, replace="        return controlnet(x, t, cond, hints, 0.0)",
         why="control scale 0: the base model's samples"),
    dict(name="control-noise", cell="control", kind="noise",
         find=CONTROL_RETURN,
         replace="        return [scale * torch.randn_like(r) for r in controlnet(x, t, cond, hints, scale)]",
         why="N(0, I) residuals instead of the ControlNet's"),
    dict(name="control-shipped", cell="control", kind="shipped model",
         find=CONTROL_START,
         replace="    controlnet = ControlNet(BASE.unet).to(hint.device).eval()\n"
                 "    controlnet.load_state_dict(zoo.load('shapes-controlnet', hint.device).state_dict())\n" + CONTROL_START,
         why="ignores the network it was given and loads the shipped ControlNet itself"),
    dict(name="mask-everything", cell="control", kind="constant image",
         find="    return (distance > threshold).float()", replace="    return torch.ones_like(distance)",
         why="mask_of marks every pixel as the shape"),
]
