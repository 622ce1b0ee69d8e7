# SPDX-License-Identifier: Apache-2.0
"""Dataset preparation behind tools/prepare_data.py: REDS, Vimeo-90K, Vid4/UDM10, videos, packing.

Each module checks its whole input first (`common.Problems`), then writes
atomically and skips finished outputs, so every command can be re-run.
"""
