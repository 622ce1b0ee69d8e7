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


EXPORT_OUT = cat.OUT_COMMON + [
    cat.Wrong('a file', lambda w, c: cat.copy(w['cfg'], c, 'cfg'), 'cfg', True),
    cat.Wrong('its own weights', _export_overwrites_its_weights, 'm.pdiparams', True),
]


def tools():
    """{name: Tool} (imported lazily: the tools import Paddle)."""
    from tools.compare import main as compare
    from tools.convert_weights import main as convert
    from tools.export_model import main as export
    from tools.inference import main as infer
    from tools.video_sr import main as video
    return {
        'compare': Tool(compare, lambda w: [
            ('-c', w['cfg']), ('--load', w['weights']), ('--key', '000/00000002'),
            ('--crop', '0,0,8,8'), ('--zoom', '2'), ('-o', 'cmp.png')], {
            '-c': cat.CONFIG + [cat.MISSING_FLAG], '--load': cat.WEIGHTS, '--key': cat.KEY,
            '--crop': cat.CROP, '--zoom': cat.positive(64), '-o': cat.OUT_IMAGE,
            '--model_path': cat.MODEL}),
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
            '--run_mode': cat.CHOICE}),
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
            '--tile': cat.positive()}),
    }
