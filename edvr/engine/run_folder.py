# SPDX-License-Identifier: Apache-2.0
"""Where a run writes: ``output_dir/<config name>-<time>``, its config records, its newest checkpoint."""
import os
import re
import time

from edvr import weights
from edvr.errors import TrainingError
from edvr.settings import value


def run_folder(cfg, config_path, resume=None):
    """The run's output folder: the resumed checkpoint's folder, or a new timestamped one."""
    if resume:
        return os.path.dirname(os.path.abspath(resume))
    name = os.path.splitext(os.path.basename(config_path or 'run'))[0]
    stamp = time.strftime('%Y-%m-%d-%H-%M-%S')
    path, copy = os.path.join(value(cfg, 'output_dir'), f'{name}-{stamp}'), 1
    while os.path.exists(path):  # another run started this second: never share its folder
        copy += 1
        path = os.path.join(value(cfg, 'output_dir'), f'{name}-{stamp}-{copy}')
    return path


def auto_resume_checkpoint(cfg, config_path):
    """The newest checkpoint of the newest run of this config in output_dir, or None.

    Only this config's own run folders count: ``<name>-<stamp>`` or ``<name>-<stamp>-<copy>``
    as `run_folder` names them (``edvr_demo-copy-<stamp>`` is another config's run).
    """
    name = os.path.splitext(os.path.basename(config_path or 'run'))[0]
    own = re.compile(re.escape(name) + r'-(\d{4}(?:-\d\d){5})(?:-(\d+))?')
    out = value(cfg, 'output_dir')
    found = [(m.group(1), int(m.group(2) or 1), entry) for entry in
             (os.listdir(out) if os.path.isdir(out) else []) if (m := own.fullmatch(entry))]
    runs = [os.path.join(out, entry) for *_, entry in sorted(found, reverse=True)]
    return next((found for run in runs if (found := weights.latest_checkpoint(run))), None)


def config_record_path(run_dir, resumed_iter=None):
    """Where a run records its config: ``config.yaml`` for a new run; a resumed run keeps
    that file and writes ``config.resume-<iter>.yaml`` (``-2``, ``-3``... if resumed again)."""
    if resumed_iter is None:
        return os.path.join(run_dir, 'config.yaml')
    name, copy = f'config.resume-{int(resumed_iter)}', 1
    path = os.path.join(run_dir, f'{name}.yaml')
    while os.path.exists(path):
        copy += 1
        path = os.path.join(run_dir, f'{name}-{copy}.yaml')
    return path


def disk_full_error(exc, run_dir, config_path):
    """The one-line TrainingError for a checkpoint or weights file that did not fit on disk."""
    kept = weights.latest_checkpoint(run_dir)
    resume = f'--resume {kept}' if kept else '(no checkpoint yet: start again)'
    return TrainingError(f'{exc.filename}: no space left on device, not written; kept '
                         f'{kept or "nothing"}; free space, then continue: python '
                         f'tools/main.py -c {config_path} {resume}')
