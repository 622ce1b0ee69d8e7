# SPDX-License-Identifier: Apache-2.0
"""Shared test setup: import the package from this checkout, run Paddle on CPU."""
import os
import sys
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
warnings.filterwarnings('ignore', message='No ccache found')

import paddle  # noqa: E402

paddle.set_device('cpu')
from edvr.utils.device import tune_cpu_runtime  # noqa: E402

tune_cpu_runtime()   # as the entry points do, before any computation in the test process
