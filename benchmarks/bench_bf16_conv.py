# SPDX-License-Identifier: Apache-2.0
"""The bfloat16 convolution kernels against the float32 ones (C++ alone, no Paddle).

Compiles ``bench_bf16_conv.cc`` with the kernels of ``edvr/ops/csrc`` (g++, -O3
-march=native, OpenMP) into a temporary folder and runs it: the register-only float32 and
bfloat16 peaks of this CPU, then, for EDVR's dominant 3x3 shapes, the time and error of the
float32 direct and Winograd kernels, the bfloat16 direct kernel and the bfloat16 mode's
Winograd kernel (see the .cc file).

    python benchmarks/bench_bf16_conv.py                 # 2 threads, 3 rounds
    python benchmarks/bench_bf16_conv.py --threads 1     # CPU time = the kernel's own time
"""
import argparse
import os
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CSRC = os.path.join(ROOT, 'edvr', 'ops', 'csrc')
KERNELS = ('cpu_direct_conv.cc', 'cpu_winograd_conv.cc', 'cpu_bf16_conv.cc',
           'cpu_bf16_winograd.cc')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--threads', type=int, default=2)
    parser.add_argument('--rounds', type=int, default=3, help='timed runs of each kernel')
    parser.add_argument('--shapes', type=int, default=5, help='the first N shapes only')
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        binary = os.path.join(tmp, 'bench_bf16_conv')
        cmd = ['g++', '-O3', '-march=native', '-std=c++17', '-fopenmp', f'-I{CSRC}',
               os.path.join(ROOT, 'benchmarks', 'bench_bf16_conv.cc')] + \
            [os.path.join(CSRC, name) for name in KERNELS] + ['-o', binary]
        build = subprocess.run(cmd, capture_output=True, text=True)
        if build.returncode:
            sys.exit(f'compiling failed: {build.stderr.strip().splitlines()[-1:]}')
        print(f'load average {os.getloadavg()[0]:.1f} before', flush=True)
        code = subprocess.run([binary, str(args.threads), str(args.rounds),
                               str(args.shapes)]).returncode
        print(f'load average {os.getloadavg()[0]:.1f} after')
        sys.exit(code)


if __name__ == '__main__':
    main()
