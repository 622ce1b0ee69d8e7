# SPDX-License-Identifier: Apache-2.0
"""Per-frame network features reused by the sliding windows that share a frame.

A clip restored with a window of t frames feeds every frame to the network t
times; the network's per-frame stage (`EDVRNet.extract_features`) does not
depend on the window, so `FeatureCache` computes it once per distinct input
frame. Entries are keyed on the frame's content (a hash of its bytes, checked
byte for byte on a hit), so tiles, ensemble transforms and repeated padding
frames are told apart or shared without any bookkeeping by the caller.

The cache keeps the entries used by the current window and the one before it
(`start_window` marks the boundary), and never more than ``budget_mib`` of
features: past the budget, new features are used but not kept.
"""
import hashlib

import numpy as np
import paddle


class FeatureCache:
    """Per-frame features of the recent windows.

    Args:
        extract: callable (n, c, h, w) float32 tensor -> list of tensors (n, ...),
            one per feature level.
        budget_mib: most memory the kept features may take, in MiB.
    """

    def __init__(self, extract, budget_mib=1024):
        self.extract = extract
        self.budget = int(budget_mib * 2 ** 20)
        self.entries = {}       # key -> (frame, [level tensors (1, ...)], last window used)
        self.window = 0
        self.bytes = 0
        self.computed = 0       # frames whose features were computed
        self.reused = 0         # frames served from the cache

    def start_window(self):
        """Begin the next window: drop entries that neither it nor the last one used."""
        self.window += 1
        for key in [k for k, (_, _, used) in self.entries.items() if used < self.window - 1]:
            self._drop(key)

    def clear(self):
        """Forget every entry."""
        for key in list(self.entries):
            self._drop(key)

    def features(self, frames):
        """The features of ``frames``, computing only those not held.

        Args:
            frames: float32 ndarray (n, c, h, w).

        Returns:
            list of tensors, one per level, each (n, ...) in the order of ``frames``.
        """
        keys = [_content_key(frame) for frame in frames]
        levels, missing, twins = [None] * len(frames), [], {}
        for i, (key, frame) in enumerate(zip(keys, frames)):
            entry = self.entries.get(key)
            if entry is not None and np.array_equal(entry[0], frame):
                self.entries[key] = (entry[0], entry[1], self.window)
                levels[i] = entry[1]
                self.reused += 1
                continue
            twin = next((j for j in missing
                         if keys[j] == key and np.array_equal(frames[j], frame)), None)
            if twin is None:
                missing.append(i)
            else:                        # a repeat within this call (temporal padding)
                twins[i] = twin
        if missing:
            computed = self.extract(paddle.to_tensor(np.ascontiguousarray(frames[missing])))
            self.computed += len(missing)
            for row, i in enumerate(missing):   # copies: a kept slice would hold the batch
                levels[i] = ([level[row:row + 1].clone() for level in computed]
                             if len(missing) > 1 else computed)
                self._keep(keys[i], frames[i], levels[i])
        for i, twin in twins.items():
            levels[i] = levels[twin]
            self.reused += 1
        return [paddle.concat([frame_levels[k] for frame_levels in levels])
                for k in range(len(levels[0]))]

    def _keep(self, key, frame, levels):
        size = _entry_bytes(frame, levels)
        if self.bytes + size > self.budget:
            return
        old = self.entries.get(key)
        if old is not None:          # a hash collision: the newer frame takes the slot
            self._drop(key)
        self.entries[key] = (frame.copy(), levels, self.window)
        self.bytes += size

    def _drop(self, key):
        frame, levels, _ = self.entries.pop(key)
        self.bytes -= _entry_bytes(frame, levels)


def _content_key(frame):
    """Shape, dtype and a 128-bit hash of a frame's bytes."""
    frame = np.ascontiguousarray(frame)
    return frame.shape, frame.dtype.str, hashlib.blake2b(frame.data, digest_size=16).digest()


def _entry_bytes(frame, levels):
    return frame.nbytes + sum(int(np.prod(level.shape)) * level.element_size() for level in levels)
