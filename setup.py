# SPDX-License-Identifier: Apache-2.0
"""Installs the `edvr` package; PaddlePaddle is left to the user (CPU or GPU build).

The version is `edvr.__version__` and the requirements are `requirements.txt` (a line marked
``# [NAME]`` belongs to the extra NAME) and `requirements-test.txt` (the extra ``test``),
all read as text so that nothing is imported here.
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
        if spec.strip():
            found.append((spec.strip(), extra.group(1) if extra else None))
    return found


INSTALL_REQUIRES = [spec for spec, extra in requirements('requirements.txt') if extra is None]
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
    packages=find_packages(include=['edvr', 'edvr.*']),
    # Everything the C++ kernel build reads (sources and headers, compiled on first use),
    # and the contract of edvr.ops.
    package_data={'edvr.ops': ['csrc/*', 'README.md']},
    install_requires=INSTALL_REQUIRES,
    extras_require=EXTRAS_REQUIRE,
)
