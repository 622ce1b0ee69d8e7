# SPDX-License-Identifier: Apache-2.0
"""The catalogue of wrong values, by kind of argument.

Each `Wrong` makes its value in a fresh case folder (writing any bad file it needs there)
from the valid inputs of `tests.edges.world`, and says what the one error line must name.
``make(world, case)`` returns the text of the value, `MISSING` (leave the flag out), or a
dict {slot: value} when a mistake involves two arguments (an output equal to an input).
"""
import os
import pickle
import re
import shutil
from collections import namedtuple

MISSING = object()

# name: short id; make(world, case) -> value; needle: text the error line must contain
# (None: the value itself, or the base name of a path); fast: part of the quick subset.
Wrong = namedtuple('Wrong', 'name make needle fast')
Wrong.__new__.__defaults__ = (None, False)


def _write(case, name, data):
    path = os.path.join(case, name)
    with open(path, 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def _dir(case, name):
    path = os.path.join(case, name)
    os.makedirs(path)
    return path


def _cut(world_file, case, name):
    with open(world_file, 'rb') as f:
        data = f.read()
    return _write(case, name, data[:len(data) // 2])


def _loop(case, name):
    path = os.path.join(case, name)
    os.symlink(name, path)  # a link to itself: opening it fails with ELOOP
    return path


def _hostile(case, name):
    marker = os.path.join(case, 'ran')
    payload = b'\x80\x02cos\nsystem\nq\x00X' + len(f'touch {marker}').to_bytes(4, 'little') + \
        f'touch {marker}'.encode() + b'\x85R.'
    return _write(case, name, payload)


def _deep(case, name):
    depth = 50_000
    return _write(case, name, b'\x80\x02' + b']' * depth + b'a' * (depth - 1) + b'.')


def _huge_array(case, name):
    import numpy as np
    rebuild = np.ndarray.__reduce__(np.zeros(0))[0]

    class Huge:
        def __reduce__(self):
            return rebuild, (np.ndarray, (2 ** 58,), np.dtype('float32'))
    return _write(case, name, pickle.dumps({'generator': {'w': Huge()}}, protocol=2))


def _fifo(case, name):
    path = os.path.join(case, name)
    os.mkfifo(path)  # opening it for reading would wait for a writer forever
    return path


def _weights_where(world, case, name, change):
    """The world's weights with every array passed through ``change``."""
    from edvr.utils.safe_pickle import read_paddle_pickle
    state = read_paddle_pickle(world['weights'])['generator']
    path = os.path.join(case, name)
    with open(path, 'wb') as f:
        pickle.dump({'generator': {k: change(v) for k, v in state.items()}}, f, protocol=2)
    return path


def _nan(values):
    values = values.copy()
    values.flat[0] = float('nan')
    return values


def copy(world_file, case, name):
    path = os.path.join(case, name)
    shutil.copy(world_file, path)
    return path


def _config_twice(world, case):
    with open(world['cfg'], encoding='utf-8') as f:
        text = f.read()
    return _write(case, 'twice.yaml', text + '\ntotal_iters: 3\n')


MISSING_FLAG = Wrong('missing', lambda w, c: MISSING, '', True)

PATH_COMMON = [
    Wrong('not found', lambda w, c: os.path.join(c, 'none.xyz'), 'none.xyz', True),
    Wrong('empty text', lambda w, c: '', "''"),
    Wrong('symlink loop', lambda w, c: _loop(c, 'loop.xyz'), 'loop.xyz'),
]

CONFIG = PATH_COMMON + [
    Wrong('folder', lambda w, c: _dir(c, 'a_folder.yaml'), 'a_folder.yaml', True),
    Wrong('empty file', lambda w, c: _write(c, 'empty.yaml', b''), 'empty.yaml'),
    Wrong('not UTF-8', lambda w, c: _write(c, 'latin.yaml', b'total_iters: 3 \xe9\n'),
          'latin.yaml', True),
    Wrong('weights given as config', lambda w, c: copy(w['weights'], c, 'w.pdparams'),
          'w.pdparams', True),
    Wrong('truncated', lambda w, c: _write(c, 'cut.yaml', b'model:\n  generator: [1,\n'),
          'cut.yaml'),
    Wrong('key twice', _config_twice, 'written twice', True),
    Wrong('a list', lambda w, c: _write(c, 'list.yaml', b'- 1\n- 2\n'), 'list.yaml'),
    Wrong('huge', lambda w, c: _write(c, 'huge.yaml', b'a: 1\n' * (4 << 20)), 'huge.yaml'),
    Wrong('a FIFO', lambda w, c: _fifo(c, 'pipe.yaml'), 'not a regular file', True),
    Wrong('tab indentation', lambda w, c: _write(c, 'tab.yaml', b'model:\n\tname: x\n'),
          'tab.yaml'),
    Wrong('UTF-16', lambda w, c: _write(c, 'u16.yaml', 'total_iters: 3\n'.encode('utf-16')),
          'u16.yaml'),
]

WEIGHTS = PATH_COMMON + [
    Wrong('folder', lambda w, c: _dir(c, 'dir.pdparams'), 'dir.pdparams', True),
    Wrong('empty file', lambda w, c: _write(c, 'empty.pdparams', b''), 'empty.pdparams'),
    Wrong('text', lambda w, c: copy(w['cfg'], c, 'text.pdparams'), 'text.pdparams'),
    Wrong('truncated', lambda w, c: _cut(w['weights'], c, 'cut.pdparams'), 'cut.pdparams', True),
    Wrong('runs code', lambda w, c: _hostile(c, 'evil.pdparams'), 'os.system', True),
    Wrong('nested deep', lambda w, c: _deep(c, 'deep.pdparams'), 'deep.pdparams'),
    Wrong('huge header', lambda w, c: _huge_array(c, 'huge.pdparams'), 'huge.pdparams', True),
    Wrong('a .pth', lambda w, c: copy(w['pth'], c, 'torch.pdparams'), 'torch.pdparams'),
    Wrong('other network', lambda w, c: _write(c, 'other.pdparams', pickle.dumps(
        {'generator': {'conv.weight': __import__('numpy').zeros(3, 'float32')}}, protocol=2)),
        'other.pdparams'),
    Wrong('a NaN value', lambda w, c: _weights_where(w, c, 'nan.pdparams', _nan), 'NaN'),
    Wrong('whole numbers', lambda w, c: _weights_where(w, c, 'int.pdparams',
                                                        lambda v: v.astype('int64')), 'int64'),
]

TORCH = PATH_COMMON + [
    Wrong('folder', lambda w, c: _dir(c, 'dir.pth'), 'dir.pth', True),
    Wrong('empty file', lambda w, c: _write(c, 'empty.pth', b''), 'empty.pth'),
    Wrong('text', lambda w, c: copy(w['cfg'], c, 'text.pth'), 'text.pth'),
    Wrong('truncated', lambda w, c: _cut(w['pth'], c, 'cut.pth'), 'cut.pth', True),
    Wrong('paddle weights', lambda w, c: copy(w['weights'], c, 'paddle.pth'), 'paddle.pth'),
    Wrong('runs code', lambda w, c: _hostile(c, 'evil.pth'), 'evil.pth', True),
]


def _model_with(world, case, ext, data):
    folder = _dir(case, 'm')
    for name in os.listdir(os.path.dirname(world['model'])):
        shutil.copy(os.path.join(os.path.dirname(world['model']), name), folder)
    _write(folder, 'tiny' + ext, data)
    return os.path.join(folder, 'tiny')


def _model_cut(world, case, ext):
    with open(world['model'] + ext, 'rb') as f:
        data = f.read()
    return _model_with(world, case, ext, data[:len(data) // 2])


def _program_ext(world):
    """.json (Paddle 3) or .pdmodel (Paddle 2.6): the exported program's extension."""
    return '.json' if os.path.exists(world['model'] + '.json') else '.pdmodel'


def _model_info_says(world, case, change):
    with open(world['model'] + '.edvr.yml', encoding='utf-8') as f:
        text = f.read()
    return _model_with(world, case, '.edvr.yml', change(text))


def _onnx_broken(world, case):
    prefix = _model_with(world, case, '.onnx', b'\x08\x07\x12\x0bpaddle2onnx' + b'\x00' * 20)
    return prefix + '.onnx'


MODEL = PATH_COMMON + [
    Wrong('folder without a model', lambda w, c: _dir(c, 'nomodel'), 'nomodel', True),
    Wrong('weights truncated', lambda w, c: _model_cut(w, c, '.pdiparams'), 'tiny.pdiparams',
          True),
    Wrong('weights of a pickle', lambda w, c: _model_with(w, c, '.pdiparams', open(
        w['weights'], 'rb').read()), 'tiny.pdiparams'),
    Wrong('program truncated', lambda w, c: _model_cut(w, c, _program_ext(w)), 'tiny.'),
    Wrong('description says scale 3', lambda w, c: _model_info_says(
        w, c, lambda t: re.sub(r'scale: \d+', 'scale: 3', t)), 'scale 3'),
    Wrong('description says 7 frames', lambda w, c: _model_info_says(
        w, c, lambda t: re.sub(r'num_frames: \d+', 'num_frames: 7', t)), 'num_frames 7'),
    Wrong('an ONNX file that is not one', _onnx_broken, 'tiny.onnx'),
    Wrong('description broken', lambda w, c: _model_with(w, c, '.edvr.yml', b'num_frames: [5\n'),
          'tiny.edvr.yml', True),
    Wrong('description wrong', lambda w, c: _model_with(w, c, '.edvr.yml', b'num_frames: 0\n'),
          'num_frames'),
    Wrong('description not UTF-8', lambda w, c: _model_with(w, c, '.edvr.yml', b'\xff\xfe'),
          'tiny.edvr.yml'),
]


def _frames_with(world, case, name, data):
    folder = os.path.join(case, 'frames')
    shutil.copytree(world['frames'], folder)
    if data is None:
        os.remove(os.path.join(folder, name))
    else:
        _write(folder, name, data)
    return folder


def _frame_cut(world, case):
    folder = os.path.join(case, 'frames')
    shutil.copytree(world['frames'], folder)
    first = sorted(os.listdir(folder))[1]
    _cut(os.path.join(world['frames'], first), folder, first)
    return folder


def _frame_other_size(world, case):
    import cv2
    import numpy as np
    folder = os.path.join(case, 'frames')
    shutil.copytree(world['frames'], folder)
    name = sorted(os.listdir(folder))[2]
    cv2.imwrite(os.path.join(folder, name), np.zeros((12, 20, 3), np.uint8))
    return folder


def _frame_twice(world, case):
    import cv2
    folder = os.path.join(case, 'frames')
    shutil.copytree(world['frames'], folder)
    first = sorted(os.listdir(folder))[1]
    cv2.imwrite(os.path.join(folder, first[:-4] + '.jpg'), cv2.imread(os.path.join(folder, first)))
    return folder


FRAMES = PATH_COMMON + [
    Wrong('a file', lambda w, c: copy(w['cfg'], c, 'file'), 'file', True),
    Wrong('empty folder', lambda w, c: _dir(c, 'nothing'), 'nothing', True),
    Wrong('truncated frame', _frame_cut, '.png', True),
    Wrong('not an image', lambda w, c: _frames_with(w, c, '00000009.png', b'not a png'),
          '00000009.png'),
    Wrong('frames of two sizes', _frame_other_size, 'shape'),
    Wrong('one name twice (.png and .jpg)', _frame_twice, 'two frames of one name', True),
]

VIDEO = PATH_COMMON + [
    Wrong('folder', lambda w, c: _dir(c, 'dir.mp4'), 'dir.mp4', True),
    Wrong('empty file', lambda w, c: _write(c, 'empty.mp4', b''), 'empty.mp4'),
    Wrong('text', lambda w, c: copy(w['cfg'], c, 'text.mp4'), 'text.mp4', True),
    Wrong('truncated', lambda w, c: _cut(w['video'], c, 'cut.mp4'), 'cut.mp4', True),
]


def _inside(world, key, *parts):
    return os.path.join(world[key], *parts)


OUT_COMMON = [
    Wrong('empty text', lambda w, c: '', "''"),
    Wrong('parent is a file', lambda w, c: os.path.join(copy(w['cfg'], c, 'file'), 'out.png'),
          'file'),
]

OUT_IMAGE = OUT_COMMON + [
    Wrong('not an image type', lambda w, c: os.path.join(c, 'out.gif'), 'out.gif', True),
    Wrong('folder', lambda w, c: _dir(c, 'out.png'), 'out.png', True),
    Wrong('a dataset frame', lambda w, c: _inside(w, 'data', 'REDS4_test_sharp', 'X4', '000',
                                                   '00000000.png'), '00000000.png', True),
    Wrong('inside the data', lambda w, c: _inside(w, 'data', 'REDS4_test_sharp', 'X4', '000',
                                                   'x.png'), 'x.png'),
    Wrong('parent missing', lambda w, c: os.path.join(c, 'no', 'out.png'), 'out.png'),
]

OUT_FOLDER = OUT_COMMON + [
    Wrong('the input frames', lambda w, c: w['frames'], 'frames', True),
    Wrong('inside the input', lambda w, c: os.path.join(w['frames'], 'sr'), 'sr', True),
    Wrong('containing the input', lambda w, c: w['root'], 'input'),
    Wrong('a file', lambda w, c: copy(w['cfg'], c, 'out'), 'out', True),
]

def _same_outputs(world, case):
    path = os.path.join(case, 'out.mp4')
    return {'-o': path, '--frames_out': path}


OUT_VIDEO = OUT_COMMON + [
    Wrong('the input video', lambda w, c: w['video'], 'clip.mp4', True),
    Wrong('the same as --frames_out', _same_outputs, 'outputs that do not overlap', True),
    Wrong('not a video type', lambda w, c: os.path.join(c, 'out.gif'), 'out.gif', True),
    Wrong('folder', lambda w, c: _dir(c, 'out.mp4'), 'out.mp4'),
    Wrong('parent missing', lambda w, c: os.path.join(c, 'no', 'out.mp4'), 'out.mp4'),
]


def _same_pth(world, case):
    path = copy(world['pth'], case, 'edvr.pdparams')
    return {'src': path, 'dst': path}


OUT_WEIGHTS = OUT_COMMON + [
    Wrong('the input checkpoint', _same_pth, 'edvr.pdparams', True),
    Wrong('not .pdparams', lambda w, c: os.path.join(c, 'out.pth'), 'out.pth', True),
    Wrong('folder', lambda w, c: _dir(c, 'out.pdparams'), 'out.pdparams'),
    Wrong('parent missing', lambda w, c: os.path.join(c, 'no', 'out.pdparams'), 'out.pdparams'),
]


def values(kind, *texts, fast=1):
    return [Wrong(f'{kind} {t!r}', (lambda t: lambda w, c: t)(t), t if t else "''", i < fast)
            for i, t in enumerate(texts)]


def positive(high=None):
    """Wrong values of a whole number >= 1 (and <= high)."""
    extra = (str(high + 1),) if high else ('10' * 20,)
    return values('count', 'x', '0', '-3', '1.5', '', *extra, fast=2)


def non_negative():
    return values('count', 'x', '-1', '2.5', '', fast=2)


SEED = values('seed', '-1', '4294967296', 'abc', '1e3', fast=2)
CROP = values('crop', '1,2,x,4', '1,2,3', '0,0,0,4', '', fast=2) + [
    Wrong('crop negative', lambda w, c: '-1,0,4,4', '--crop'),  # argparse: looks like a flag
    Wrong('crop outside the frame', lambda w, c: '0,0,4000,4000', 'outside', True)]
SHAPE = values('shape', '1,5,x', '1,5,4,16,24', '1,5,3,0,24', '1,5,3', '', fast=2) + [
    Wrong('frames not the network\'s', lambda w, c: '1,7,3,16,24', 't = 5 frames', True)]
CHOICE = values('choice', 'nope', '', fast=1)
NAME = values('name', 'a/b', '', '..', fast=1)
DEVICE = values('device', 'tpu', 'gpu:x', fast=1)
KEY = values('key', '999/00000000', '', fast=1)
OVERRIDE = [
    Wrong('unknown key', lambda w, c: 'nokey=1', 'nokey', True),
    Wrong('empty key', lambda w, c: '=5', "'=5'", True),
    Wrong('NaN', lambda w, c: 'model.generator.nf=.nan', 'nan'),
    Wrong('no =', lambda w, c: 'total_iters', 'total_iters', True),
    Wrong('groups 0', lambda w, c: 'model.generator.groups=0', 'groups', True),
    Wrong('nf a word', lambda w, c: 'model.generator.nf=lots', 'nf'),
    Wrong('key twice', lambda w, c: 'model.generator={a: 1, a: 2}', 'written twice'),
    Wrong('index past a list', lambda w, c: 'validate.metrics.psnr.9=1', 'psnr'),
]
