# SPDX-License-Identifier: Apache-2.0
"""Installs the `edvr` package; PaddlePaddle is left to the user (CPU or GPU build).

The version is `edvr.__version__`; the requirements are `requirements-base.txt` (everything
but Paddle), the lines of `requirements.txt` marked ``# [NAME]`` (the extra NAME: ``cpu`` is
PaddlePaddle's CPU build) and `requirements-test.txt` (the extra ``test``), all read as text
so that nothing is imported here. The commands are the console scripts
``edvr-train``, ``edvr-export``, ... (edvr/cli/), and the configs ship as ``edvr/configs``.
"""
import os
import re

from setuptools import find_packages, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def read(name):
    with open(os.path.join(HERE, name), encoding='utf-8') as f:
        return f.read()


def version():
    return re.search(r"^__version__ = '([^']+)'", read('edvr/__init__.py'), re.M).group(1)


def requirements(name):
    """[(requirement, extra or None)] of a requirements file; none if it is absent."""
    if not os.path.exists(os.path.join(HERE, name)):
        return []
    found = []
    for line in read(name).splitlines():
        spec, _, comment = line.partition('#')
        extra = re.match(r'\s*\[(\w+)\]', comment)
        if spec.strip() and not spec.strip().startswith('-'):  # not "-r other.txt"
            found.append((spec.strip(), extra.group(1) if extra else None))
    return found


# The console scripts edvr-NAME, each the main() of the module edvr/cli/NAME.py.
COMMANDS = ('train', 'export', 'infer', 'video', 'prepare', 'convert', 'compare')
INSTALL_REQUIRES = [spec for spec, _ in requirements('requirements-base.txt')]
EXTRAS_REQUIRE = {'gpu': ['paddlepaddle-gpu'],
                  'test': [spec for spec, _ in requirements('requirements-test.txt')]}
for spec, extra in requirements('requirements.txt'):
    if extra is not None:
        EXTRAS_REQUIRE.setdefault(extra, []).append(spec)

setup(
    name='edvr',
    version=version(),
    description='EDVR video super-resolution and deblurring on PaddlePaddle',
    long_description=read('README.md'),
    long_description_content_type='text/markdown',
    license='Apache-2.0',
    python_requires='>=3.8',
    # configs/ stays at the top of the repository (PaddleGAN's layout) and is installed as
    # edvr/configs, where `-c NAME` finds a shipped config (edvr.config.find_config).
    packages=find_packages(include=['edvr', 'edvr.*']) + ['edvr.configs'],
    package_dir={'edvr.configs': 'configs'},
    # Everything the C++ kernel build reads (sources and headers, compiled on first use),
    # the contract of edvr.ops, and the configs.
    package_data={'edvr.ops': ['csrc/*', 'README.md'], 'edvr.configs': ['*.yaml', 'README.md']},
    entry_points={'console_scripts': [f'edvr-{name}=edvr.cli.{name}:main' for name in COMMANDS]},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
)
