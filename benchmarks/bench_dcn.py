# SPDX-License-Identifier: Apache-2.0
"""Time the DCN kernels and one small EDVR training step per kernel on CPU.

Usage: python benchmarks/bench_dcn.py [--threads 2] [--repeats 7] [--steps 5]

Prints median milliseconds of DCNv2 forward and forward+backward for each
kernel ('paddle', 'sampling', and 'cpp' when the C++ ops build) at several
(b, c, h, w) shapes (3x3 kernel, 8 deformable groups), then the median time of an EDVR training step
(nf 32, 2+4 blocks, no TSA, batch 8, Charbonnier sum, Adam) and of an
evaluation forward for each kernel.
"""
import argparse
import os
import sys
import time

import numpy as np
import paddle

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from edvr.ops.dcn import modulated_deform_conv2d, set_dcn_kernel  # noqa: E402
from edvr.models.edvr_net import EDVRNet  # noqa: E402
from edvr.models.losses import CharbonnierLoss  # noqa: E402
from edvr.ops.cpu_ops import load_cpu_ops  # noqa: E402
from edvr.utils.device import set_cpu_threads, tune_cpu_runtime  # noqa: E402

KERNELS = ('paddle', 'sampling', 'cpp')
SHAPES = ((4, 32, 32, 32), (4, 64, 64, 64), (8, 32, 16, 16), (40, 32, 16, 16), (40, 32, 32, 32))


def median_ms(fns, repeats, warmup=1):
    """Median wall milliseconds of each function in ``fns`` (a dict), run interleaved."""
    times = {name: [] for name in fns}
    for r in range(warmup + repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            if r >= warmup:
                times[name].append((time.perf_counter() - start) * 1000)
    return {name: float(np.median(t)) for name, t in times.items()}


def dcn_inputs(shape, groups=8, seed=0):
    b, c, h, w = shape
    rng = np.random.RandomState(seed)

    def leaf(array):
        return paddle.to_tensor(array.astype('float32'), stop_gradient=False)

    x = leaf(rng.rand(b, c, h, w))
    offset = leaf(rng.randn(b, 2 * groups * 9, h, w) * 2)
    # The mask must carry gradient: paddle's CPU kernel crashes otherwise.
    mask = leaf(rng.rand(b, groups * 9, h, w))
    weight = leaf(rng.randn(c, c, 3, 3) * 0.05)
    bias = leaf(np.zeros(c))
    return x, offset, mask, weight, bias


def bench_dcn(repeats):
    print('DCNv2 3x3, 8 groups, median ms')
    print(f'{"shape (b,c,h,w)":>18} | ' + ' | '.join(
        f'{k} fwd | {k} fwd+bwd' for k in KERNELS))
    for shape in SHAPES:
        x, offset, mask, weight, bias = dcn_inputs(shape)

        def forward(kernel):
            with paddle.no_grad():
                modulated_deform_conv2d(x, offset, mask, weight, bias, 1, 1, 1, 8, kernel)

        def train(kernel):
            out = modulated_deform_conv2d(x, offset, mask, weight, bias, 1, 1, 1, 8, kernel)
            out.sum().backward()
            for t in (x, offset, mask, weight, bias):
                t.clear_gradient()
        fns = {}
        for kernel in KERNELS:
            fns[f'{kernel} fwd'] = lambda k=kernel: forward(k)
            fns[f'{kernel} train'] = lambda k=kernel: train(k)
        ms = median_ms(fns, repeats)
        print(f'{str(shape):>18} | ' + ' | '.join(f'{v:9.1f}' for v in ms.values()))


def bench_edvr(steps):
    print('EDVR nf 32, front 2, back 4, no TSA, batch 8, 5 frames; median ms')
    for lr_size in (16, 32):
        paddle.seed(0)
        net = EDVRNet(nf=32, front_RBs=2, back_RBs=4, w_TSA=False)
        optim = paddle.optimizer.Adam(learning_rate=4e-4, beta1=0.9, beta2=0.99,
                                      parameters=net.parameters())
        loss_fn = CharbonnierLoss()
        lq = paddle.rand([8, 5, 3, lr_size, lr_size])
        gt = paddle.rand([8, 3, 4 * lr_size, 4 * lr_size])

        def step(kernel):
            set_dcn_kernel(kernel)
            net.train()
            loss = loss_fn(net(lq), gt)
            loss.backward()
            optim.step()
            optim.clear_grad()

        def evaluate(kernel):
            set_dcn_kernel(kernel)
            net.eval()
            with paddle.no_grad():
                net(lq)
        fns = {}
        for kernel in KERNELS:
            fns[f'train {kernel}'] = lambda k=kernel: step(k)
            fns[f'eval {kernel}'] = lambda k=kernel: evaluate(k)
        ms = median_ms(fns, steps)
        for kernel in KERNELS:
            print(f'  LR {lr_size}x{lr_size} kernel {kernel:8s}: train step '
                  f'{ms[f"train {kernel}"]:8.1f} | eval forward {ms[f"eval {kernel}"]:8.1f}')
    set_dcn_kernel('auto')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--repeats', type=int, default=7)
    parser.add_argument('--steps', type=int, default=5)
    args = parser.parse_args()
    tune_cpu_runtime()   # EDVR_CPU_TUNING=0: off
    set_cpu_threads(args.threads)
    global KERNELS
    if load_cpu_ops() is None:
        KERNELS = KERNELS[:2]
    print(f'paddle {paddle.__version__}, device {paddle.device.get_device()}, '
          f'{args.threads} math threads')
    bench_dcn(args.repeats)
    bench_edvr(args.steps)


if __name__ == '__main__':
    main()
