# SPDX-License-Identifier: Apache-2.0
"""Files written under one Paddle version, read under another (tests/test_cross_version.py).

``python tests/cross_version.py write DIR`` trains a tiny EDVR for 4 iterations (a full
checkpoint at iteration 2), exports it and restores a clip with the exported model;
``python tests/cross_version.py read WRITER_DIR DIR`` resumes the writer's checkpoint to
iteration 4, restores the clip from the writer's weights file (dygraph) and from its
exported model (with the default runtime and with paddle.inference). Each prints one JSON line with what it saw; the test compares.
"""
import contextlib
import glob
import io
import json
import os
import shutil
import sys

if __name__ == '__main__':
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

from edvr.cli.export import main as export_main  # noqa: E402
from edvr.cli.infer import main as infer_main  # noqa: E402
from edvr.cli.train import main as train_main  # noqa: E402
from edvr.datasets.image_io import read_image  # noqa: E402
from edvr.utils.paddle_compat import version_key  # noqa: E402
from edvr.weights import read_state  # noqa: E402
from tests.tiny import DEMO_CONFIG, make_tiny_data, tiny_overrides  # noqa: E402

ITERS = 4


def _run(main, argv):
    """(exit code, stderr lines) of a command run in this process."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, [line for line in err.getvalue().splitlines() if line.startswith('error:')]


def _frames(folder):
    return [read_image(p) for p in sorted(glob.glob(os.path.join(folder, '*.png')))]


def _clip(data):
    return os.path.join(data, 'REDS4_test_sharp_bicubic', 'X4', '000')


def write(folder):
    """Train, export and restore under this Paddle; returns where everything is."""
    data = make_tiny_data(os.path.join(folder, 'data'), num_train_clips=1)
    out = os.path.join(folder, 'train')
    code, errors = _run(train_main, ['-c', DEMO_CONFIG, '--seed', '3', '-o',
                                     *tiny_overrides(data, out, ITERS)])
    assert code == 0, errors
    (run,) = glob.glob(os.path.join(out, '*'))
    weights = os.path.join(run, f'iter_{ITERS}_weight.pdparams')
    model = os.path.join(folder, 'model', 'tiny')
    code, errors = _run(export_main, ['-c', DEMO_CONFIG, '--load', weights, '--inputs_size',
                                      '1,5,3,8,12', '--output_dir', os.path.dirname(model),
                                      '--model_name', 'tiny', '-o', *tiny_overrides(data)])
    assert code == 0, errors
    restored = os.path.join(folder, 'restored')
    code, errors = _run(infer_main, ['--model_path', model, '--input', _clip(data),
                                     '--output_path', restored, '--num_threads', '1'])
    assert code == 0, errors
    return {'paddle': version_key(), 'data': data, 'run': run, 'weights': weights,
            'model': model, 'restored': restored}


def read(written, folder):
    """Resume, restore from weights and from the exported model that ``written`` names."""
    data, report = written['data'], {'paddle': version_key()}
    # the checkpoint: resume a copy of the writer's run folder to the end
    run = os.path.join(folder, 'train', os.path.basename(written['run']))
    shutil.copytree(written['run'], run)
    for name in os.listdir(run):  # what the writer wrote after its checkpoint
        if name.startswith(f'iter_{ITERS}_') or name == 'final_scores.json':
            os.remove(os.path.join(run, name))
    code, errors = _run(train_main, ['-c', DEMO_CONFIG, '--resume',
                                     os.path.join(run, 'iter_2_checkpoint.pdparams'), '-o',
                                     *tiny_overrides(data, os.path.dirname(run), ITERS)])
    assert code == 0, errors
    report['resumed_at_2'] = os.path.isfile(os.path.join(run, 'config.resume-2.yaml'))
    ours, theirs = (read_state(os.path.join(r, f'iter_{ITERS}_weight.pdparams'))['generator']
                    for r in (run, written['run']))
    assert ours.keys() == theirs.keys()
    report['resumed_weights_max_diff'] = max(float(np.abs(ours[k] - theirs[k]).max())
                                             for k in ours)
    # the weights file: the config's network with it (dygraph) restores the writer's frames
    restored = os.path.join(folder, 'from_weights')
    code, errors = _run(infer_main, ['-c', DEMO_CONFIG, '--load', written['weights'], '--input',
                                     _clip(data), '--output_path', restored, '--num_threads', '1',
                                     '-o', *tiny_overrides(data)])
    assert code == 0, errors
    report['weights_frames'] = _compare(restored, written['restored'])
    # the exported model, as the default runtime runs it on the CPU (the library's network
    # rebuilt from the export) and as paddle.inference runs its program: restored here, or
    # refused in one line
    report['model'] = {}
    for runtime in ('auto', 'paddle_inference'):
        restored = os.path.join(folder, f'from_model_{runtime}')
        code, errors = _run(infer_main, ['--model_path', written['model'], '--input',
                                         _clip(data), '--output_path', restored,
                                         '--num_threads', '1', '--runtime', runtime])
        report['model'][runtime] = {
            'code': code, 'errors': errors,
            'frames': _compare(restored, written['restored']) if code == 0 else None}
    return report


def _compare(ours, theirs):
    """(frame count, largest 8-bit difference) between two folders of restored frames."""
    a, b = _frames(ours), _frames(theirs)
    assert len(a) == len(b) and a, (len(a), len(b))
    return [len(a), max(int(np.abs(x.astype(int) - y.astype(int)).max()) for x, y in zip(a, b))]


if __name__ == '__main__':
    if sys.argv[1] == 'write':
        print(json.dumps(write(sys.argv[2])))
    else:
        print(json.dumps(read(json.loads(sys.argv[2]), sys.argv[3])))
