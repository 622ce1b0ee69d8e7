# SPDX-License-Identifier: Apache-2.0
"""Exponential moving average (EMA) of the generator's weights.

With ``ema_decay`` set in the config, validation, ``iter_*_weight.pdparams``
and ``best_weight.pdparams`` use the averaged weights; the full checkpoint
keeps both, so training resumes from the raw weights and the average alike.
"""
import contextlib

import paddle


class WeightAverage:
    """shadow = decay * shadow + (1 - decay) * weights, after every step.

    Args:
        net: the network whose ``state_dict`` is averaged (buffers are copied).
        decay: in (0, 1); e.g. 0.999.
    """

    def __init__(self, net, decay):
        self.decay = float(decay)
        self.shadow = {k: v.detach().clone() for k, v in net.state_dict().items()}

    @paddle.no_grad()
    def update(self, net):
        for key, value in net.state_dict().items():
            shadow = self.shadow[key]
            if paddle.is_floating_point(value):
                shadow.set_value(shadow * self.decay + value.detach() * (1.0 - self.decay))
            else:
                shadow.set_value(value)

    def state_dict(self):
        return self.shadow

    def set_state_dict(self, state):
        for key, value in state.items():
            self.shadow[key].set_value(value)

    @contextlib.contextmanager
    def applied(self, net):
        """Temporarily load the averaged weights into ``net``."""
        saved = {k: v.detach().clone() for k, v in net.state_dict().items()}
        net.set_state_dict(self.shadow)
        try:
            yield net
        finally:
            net.set_state_dict(saved)
