# SPDX-License-Identifier: Apache-2.0
"""VisualDL records (scalars and images at the real iteration), off unless enabled."""


class VisualDLWriter:
    """Writes to ``logdir`` when ``enabled`` (rank 0 only); otherwise does nothing."""

    def __init__(self, logdir, enabled):
        self.writer = None
        if enabled:
            from visualdl import LogWriter  # imported only when asked for: it is slow to load
            self.writer = LogWriter(logdir=logdir)

    def scalars(self, values, step, prefix):
        if self.writer:
            for name, value in values.items():
                self.writer.add_scalar(tag=f'{prefix}/{name}', value=float(value), step=step)

    def image(self, tag, img_hwc_uint8, step):
        if self.writer:
            self.writer.add_image(tag=tag, img=img_hwc_uint8, step=step)

    def close(self):
        if self.writer:
            self.writer.close()
