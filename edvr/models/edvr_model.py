# SPDX-License-Identifier: Apache-2.0
"""EDVRModel: one training step and one test step of an EDVR generator.

Paper: EDVR: Video Restoration with Enhanced Deformable Convolutional Networks
(Wang et al., CVPRW 2019), https://arxiv.org/abs/1905.02716
"""
import paddle
import paddle.distributed as dist

from edvr.errors import TrainingError
from edvr.registry import LOSSES, MODELS, NETWORKS, build_from_config
from edvr.utils.padding import run_padded

TSA_MODULE = 'TSAModule'


@MODELS.register
class EDVRModel:
    """Holds the generator and its pixel loss; the trainer owns the loop.

    Args:
        generator: config of the network (e.g. ``{name: EDVRNet, nf: 64}``).
        pixel_criterion: config of the loss (default Charbonnier).
        tsa_iter: train only the TSA fusion module for iterations 1..tsa_iter
            (0 or False: no such stage). Decided from the global iteration, so a
            resume inside or after the stage behaves as an unbroken run.
        to_static: run the generator under ``paddle.jit.to_static``.
    """

    def __init__(self, generator, pixel_criterion=None, tsa_iter=0, to_static=False):
        self.nets = {'generator': build_from_config(generator, NETWORKS, where='model.generator')}
        self.pixel_criterion = build_from_config(pixel_criterion or {'name': 'CharbonnierLoss'},
                                                 LOSSES, where='model.pixel_criterion')
        self.tsa_iter = int(tsa_iter or 0)
        self.to_static = bool(to_static)
        if self.to_static:
            self.nets['generator'] = paddle.jit.to_static(self.nets['generator'])
        self.amp = None
        self.visuals = {}

    @property
    def generator(self):
        return self.nets['generator']

    def enable_amp(self, level='O1', dtype='float16', scaler=None):
        """Train under ``paddle.amp.auto_cast`` (``scaler`` is used for float16)."""
        self.amp = {'level': level, 'dtype': dtype, 'scaler': scaler}

    def in_tsa_stage(self, current_iter):
        """Whether ``current_iter`` (1-based) trains only the TSA module."""
        return self.tsa_iter > 0 and current_iter <= self.tsa_iter

    def set_tsa_stage(self, current_iter):
        """Freeze everything but the TSA module inside the TSA-only stage."""
        tsa_only = self.in_tsa_stage(current_iter)
        for name, param in self.generator.named_parameters():
            param.stop_gradient = tsa_only and TSA_MODULE not in name

    def train_iter(self, batch, optimizer, current_iter):
        """One optimisation step on ``batch``.

        Args:
            batch: dict with 'lq' (b, t, c, h, w) and 'gt' (b, c, H, W) tensors.
            optimizer: the paddle optimizer over the generator's parameters.
            current_iter: 1-based global iteration.

        Returns:
            dict of float losses, e.g. ``{'loss_pixel': 12.3}``.
        """
        self.set_tsa_stage(current_iter)
        self.generator.train()
        lq, gt = batch['lq'], batch['gt']
        if self.amp:
            with paddle.amp.auto_cast(level=self.amp['level'], dtype=self.amp['dtype']):
                output = self.generator(lq)
            loss = self.pixel_criterion(output.astype('float32'), gt)
        else:
            output = self.generator(lq)
            loss = self.pixel_criterion(output, gt)
        _check_finite(loss, current_iter)
        scaler = self.amp and self.amp['scaler']
        if scaler:
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            _check_finite_gradients(self.generator, optimizer, current_iter)
            optimizer.step()
        optimizer.clear_grad()
        center = getattr(unwrap(self.generator), 'center', lq.shape[1] // 2)
        self.visuals = {'lq': lq[:, center].detach(), 'output': output.detach(), 'gt': gt}
        return {'loss_pixel': float(loss)}

    @paddle.no_grad()
    def test_iter(self, lq):
        """Restore ``lq`` (b, t, c, h, w) -> (b, c, H, W) in evaluation mode.

        Frames of any size: they are reflect-padded to the network's size
        multiple and the output is cropped back.
        """
        self.generator.eval()
        multiple = getattr(unwrap(self.generator), 'size_multiple', 1)
        output, _ = run_padded(self.generator, lq, multiple)
        self.generator.train()
        return output


def unwrap(net):
    """The network itself, also when it is wrapped in ``paddle.DataParallel``."""
    return getattr(net, '_layers', net)


def _check_finite(loss, current_iter):
    """Stop before a NaN/Inf loss reaches the weights (agreed across processes)."""
    finite = paddle.isfinite(loss.detach()).astype('int32').reshape([1])
    if dist.get_world_size() > 1:
        dist.all_reduce(finite, op=dist.ReduceOp.MIN)
    if not int(finite.numpy()[0]):
        raise TrainingError(f'iteration {current_iter}: the loss is {float(loss)} '
                            f'(NaN or infinite); the weights were not updated')


def _check_finite_gradients(net, optimizer, current_iter):
    """Stop before a NaN/Inf gradient reaches the weights (gradients are already
    all-reduced under DataParallel, so every process decides alike)."""
    sums = [p.grad.sum() for p in net.parameters() if p.grad is not None]
    if sums and not bool(paddle.isfinite(paddle.stack(sums).sum())):
        optimizer.clear_grad()
        raise TrainingError(f'iteration {current_iter}: a gradient is NaN or infinite '
                            f'(the loss was finite); the weights were not updated')
