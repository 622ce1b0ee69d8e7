# SPDX-License-Identifier: Apache-2.0
"""Installs the `edvr` package; PaddlePaddle is left to the user (CPU or GPU build)."""
from setuptools import find_packages, setup

REQUIREMENTS = ['numpy', 'opencv-python-headless', 'pyyaml', 'visualdl>=2.5',
                'scikit-image>=0.19', 'tqdm']

setup(
    name='edvr',
    version='0.1.0',
    description='EDVR video super-resolution and deblurring on PaddlePaddle',
    long_description=open('README.md', encoding='utf-8').read(),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.8',
    packages=find_packages(include=['edvr', 'edvr.*']),
    package_data={'edvr.ops': ['csrc/*.cc']},   # C++ kernels, compiled on first use
    install_requires=REQUIREMENTS,
    extras_require={'cpu': ['paddlepaddle>=3.0'], 'gpu': ['paddlepaddle-gpu'], 'test': ['pytest']},
)
