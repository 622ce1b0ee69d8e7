# SPDX-License-Identifier: Apache-2.0
"""Where a run writes: ``output_dir/<config name>-<time>``, and finding its newest checkpoint."""
import glob
import os
import time

from edvr.engine import checkpoint as ckpt


def run_folder(cfg, config_path, resume=None):
    """The run's output folder: the resumed checkpoint's folder, or a new timestamped one."""
    if resume:
        return os.path.dirname(os.path.abspath(resume))
    name = os.path.splitext(os.path.basename(config_path or 'run'))[0]
    stamp = time.strftime('%Y-%m-%d-%H-%M-%S')
    return os.path.join(cfg.get('output_dir', 'output_dir'), f'{name}-{stamp}')


def auto_resume_checkpoint(cfg, config_path):
    """The newest checkpoint of the newest run of this config in output_dir, or None."""
    name = os.path.splitext(os.path.basename(config_path or 'run'))[0]
    runs = sorted(glob.glob(os.path.join(cfg.get('output_dir', 'output_dir'), f'{name}-*')),
                  reverse=True)
    return next((found for run in runs if (found := ckpt.latest_checkpoint(run))), None)
