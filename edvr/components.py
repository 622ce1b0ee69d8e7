# SPDX-License-Identifier: Apache-2.0
"""Importing this module registers every component a config can name."""
from edvr import datasets, metrics, models, solver  # noqa: F401
