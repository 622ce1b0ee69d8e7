# SPDX-License-Identifier: Apache-2.0
"""Every tool and every argument of the edge suite, with the kind of value each one takes.

A `Tool` has the command's ``main``, its valid command line as ``(slot, value)`` pairs
(``slot`` is the flag, or a name for a positional argument; values come from the world of
`tests.edges.world`; outputs are relative names, so they land in the case's empty
working folder), and for each slot the wrong values of the catalogue that fit it.
"""
import os
import shutil
from collections import namedtuple

from tests.edges import catalogue as cat

Tool = namedtuple('Tool', 'main base slots')


def _export_overwrites_its_weights(world, case):
    out = os.path.join(case, 'out')
    os.makedirs(out)
    weights = os.path.join(out, 'm.pdiparams')
    shutil.copy(world['weights'], weights)
    return {'--load': weights, '--output_dir': out, '--model_name': 'm'}


PACK_OUT = [
    cat.Wrong('the source', lambda w, c: os.path.join(w['data'], 'train_sharp', 'X4'),
              'is the input', True),
    cat.Wrong('inside the source', lambda w, c: os.path.join(w['data'], 'train_sharp', 'X4', 's'),
              'lies inside', True),
    cat.Wrong('a file', lambda w, c: cat.copy(w['cfg'], c, 'store'), 'store'),
]

PACK_SRC_FILE = cat.Wrong('a file', lambda w, c: cat.copy(w['cfg'], c, 'clips'),
                          'expected a folder', True)

EXPORT_OUT = cat.OUT_COMMON + [
    cat.Wrong('a file', lambda w, c: cat.copy(w['cfg'], c, 'cfg'), 'cfg', True),
    cat.Wrong('its own weights', _export_overwrites_its_weights, 'm.pdiparams', True),
]


def _sixteen_bit_frames(world, case):
    """The training LQ frames again, as 16-bit PNGs (read as they are, 257x too bright)."""
    import cv2
    src = os.path.join(world['data'], 'train_sharp_bicubic', 'X4')
    dst = os.path.join(case, 'lq16')
    shutil.copytree(src, dst)
    for folder, _, names in os.walk(dst):
        for name in names:
            path = os.path.join(folder, name)
            cv2.imwrite(path, cv2.imread(path).astype('uint16') * 257)
    return f'dataset.train.dataset.lq_folder={dst}'


def _evaluated_against_lq(world, case):
    lq = os.path.join(world['data'], 'REDS4_test_sharp_bicubic', 'X4')
    return {'--evaluate-only': None, '--load': world['weights'],
            '-o': f'dataset.test.gt_folder={lq}'}


TRAIN_OVERRIDES = cat.OVERRIDE + [
    cat.Wrong('missing data', lambda w, c: 'dataset.test.gt_folder=/no/such/gt', '/no/such/gt',
              True),
    cat.Wrong('eta_min above the rate', lambda w, c: 'lr_scheduler.eta_min=1', 'eta_min', True),
    cat.Wrong('too many workers', lambda w, c: 'dataset.train.num_workers=100000',
              'num_workers'),
    cat.Wrong('demo_data unknown key', lambda w, c: 'demo_data={root: d, clips: 1}',
              'demo_data.clips', True),
    cat.Wrong('runs inside the data', lambda w, c: f'output_dir={w["data"]}/REDS4_test_sharp/X4',
              'lies inside the input', True),
    cat.Wrong('a number where a step is expected', lambda w, c: 'dataset.test.preprocess.1=5',
              'preprocess.1'),
    cat.Wrong('infinite learning rate', lambda w, c: 'lr_scheduler.learning_rate=.inf',
              'learning_rate', True),
    cat.Wrong('total_iters beyond any run', lambda w, c: 'total_iters=1e100', 'total_iters'),
    cat.Wrong('output_dir empty', lambda w, c: 'output_dir=', 'output_dir'),
    cat.Wrong('16-bit frames', _sixteen_bit_frames, '16-bit', True),
    cat.Wrong('GT of another size', _evaluated_against_lq, 'GT frame of 8x12'),
    cat.Wrong('output_dir not creatable', lambda w, c: f'output_dir={cat.copy(w["cfg"], c, "f")}/x',
              'output_dir'),
]


def _instead_of_load(wrongs):
    """``wrongs`` for --model_path given instead of --load (both at once is refused)."""
    return [w._replace(make=(lambda make: lambda world, case: {
        '--model_path': make(world, case), '--load': cat.MISSING})(w.make)) for w in wrongs]


BOTH_MODELS = cat.Wrong('with --model_path', lambda w, c: w['weights'], 'give one')


def _weights_as_checkpoint(world, case):
    return cat.copy(world['weights'], case, 'weights_only.pdparams')


RESUME = [w for w in cat.WEIGHTS if w.name not in ('a NaN value', 'whole numbers')] + [
    cat.Wrong('weights, not a checkpoint', _weights_as_checkpoint, 'not a full training checkpoint',
              True),
    cat.Wrong('auto, nothing to evaluate', lambda w, c: {
        '--resume': 'auto', '--evaluate-only': None, '-o': f'output_dir={c}/runs'},
        'no checkpoint', True)]


def tools():
    """{name: Tool} (imported lazily: the tools import Paddle)."""
    from tools.compare import main as compare
    from tools.convert_weights import main as convert
    from tools.export_model import main as export
    from tools.inference import main as infer
    from tools.main import main as train
    from tools.prepare_data import main as prepare
    from tools.video_sr import main as video
    return {
        'train': Tool(train, lambda w: [('-c', w['cfg']), ('--seed', '1')], {
            '-c': cat.CONFIG + [cat.MISSING_FLAG], '-o': TRAIN_OVERRIDES, '--seed': cat.SEED,
            '--load': cat.WEIGHTS, '--resume': RESUME, '--amp_level': cat.CHOICE}),
        'prepare video': Tool(prepare, lambda w: [
            ('sub', 'video'), ('video', w['big_video']), ('--root', 'mine'), ('--lq', None)], {
            'video': cat.VIDEO, '--root': cat.OUT_COMMON, '--step': cat.positive(),
            '--max-frames': cat.positive() + [cat.Wrong(
                'fewer than a training clip', lambda w, c: '1', 'num_frames', True)],
            '--clip': cat.NAME, '--degradation': cat.CHOICE,
            '--config-template': cat.CONFIG}),
        'prepare demo': Tool(prepare, lambda w: [('sub', 'demo'), ('--root', 'demo')], {
            '--root': [cat.Wrong('a file', lambda w, c: cat.copy(w['cfg'], c, 'demo'),
                                 'is a file', True)]}),
        'prepare pack': Tool(prepare, lambda w: [
            ('sub', 'pack'), ('src', os.path.join(w['data'], 'train_sharp', 'X4')),
            ('out', 'store.lmdb'), ('--workers', '1')], {
            'src': cat.FRAMES[:3] + [cat.FRAMES[3]] + [PACK_SRC_FILE], 'out': PACK_OUT, '--codec': cat.CHOICE,
            '--workers': cat.positive(512)}),
        'prepare reds': Tool(prepare, lambda w: [
            ('sub', 'reds'), ('--src', w['data']), ('--root', 'reds')], {
            '--src': cat.PATH_COMMON[:1], '--frames-per-clip': cat.positive(),
            '--gt-size': cat.values('size', '720', '0x10', 'axb', ''),
            '--train-clips': cat.non_negative(), '--mode': cat.CHOICE,
            '--root': [cat.Wrong('the source', lambda w, c: w['data'], 'is the input', True)]}),
        'compare': Tool(compare, lambda w: [
            ('-c', w['cfg']), ('--load', w['weights']), ('--key', '000/00000002'),
            ('--crop', '0,0,8,8'), ('--zoom', '2'), ('-o', 'cmp.png')], {
            '-c': cat.CONFIG + [cat.MISSING_FLAG], '--load': cat.WEIGHTS, '--key': cat.KEY,
            '--crop': cat.CROP, '--zoom': cat.positive(64), '-o': cat.OUT_IMAGE,
            '--model_path': _instead_of_load(cat.MODEL) + [cat.Wrong(
                'and --load', lambda w, c: w['model'], 'give one', True)]}),
        'convert': Tool(convert, lambda w: [('src', w['pth']), ('dst', 'out.pdparams')], {
            'src': cat.TORCH, 'dst': cat.OUT_WEIGHTS, '--from': cat.CHOICE,
            '--config': cat.CONFIG}),
        'export': Tool(export, lambda w: [
            ('-c', w['cfg']), ('--load', w['weights']), ('--inputs_size', '1,5,3,16,24'),
            ('--output_dir', 'exported')], {
            '-c': cat.CONFIG, '--load': cat.WEIGHTS + [cat.MISSING_FLAG],
            '--inputs_size': cat.SHAPE + [cat.MISSING_FLAG], '--output_dir': EXPORT_OUT,
            '--model_name': cat.NAME, '-o': cat.OVERRIDE}),
        'infer': Tool(infer, lambda w: [
            ('--model_path', w['model']), ('--input', w['frames']), ('--output_path', 'sr')], {
            '--model_path': cat.MODEL, '--input': cat.FRAMES, '--output_path': cat.OUT_FOLDER,
            '--padding': cat.CHOICE, '--tile': cat.positive(), '--tile_overlap': cat.non_negative(),
            '--num_threads': cat.positive(1024), '--device': cat.DEVICE,
            '--run_mode': cat.CHOICE, '--runtime': cat.CHOICE, '--precision': cat.CHOICE,
            '--load': [BOTH_MODELS._replace(fast=True)]}),
        'infer -c': Tool(infer, lambda w: [
            ('-c', w['cfg']), ('--load', w['weights']), ('--input', w['frames']),
            ('--output_path', 'sr')], {
            '-c': cat.CONFIG, '--load': cat.WEIGHTS, '-o': cat.OVERRIDE}),
        'video': Tool(video, lambda w: [
            ('input', w['video']), ('-o', 'out.mp4'), ('--model_path', w['model']),
            ('--padding', 'replicate')], {
            'input': cat.VIDEO, '-o': cat.OUT_VIDEO, '--model_path': cat.MODEL,
            '--crf': cat.values('crf', 'x', '-1', '52', ''), '--preset': cat.CHOICE,
            '--frames_out': cat.OUT_FOLDER[:2] + [cat.OUT_FOLDER[-1]],
            '--tile': cat.positive(), '--runtime': cat.CHOICE, '--precision': cat.CHOICE,
            '--load': [BOTH_MODELS]}),
    }
