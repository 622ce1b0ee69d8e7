# SPDX-License-Identifier: Apache-2.0
"""Prepare datasets for training and evaluation.

    edvr-prepare reds --src downloads/REDS --root data/REDS
    edvr-prepare vimeo90k --src data/Vimeo90K/vimeo_septuplet --root data/Vimeo90K
    edvr-prepare vid4 --root data/Vid4
    edvr-prepare udm10 --root data/udm10
    edvr-prepare video my_clip.mp4 --root data/mine --lq
    edvr-prepare pack data/REDS/train_sharp/X4 data/REDS/train_sharp_X4.lmdb
    edvr-prepare demo

Every command checks its input before writing, reports all problems at once,
shows progress, runs in parallel (--workers) and is safe to re-run: finished
outputs are kept, unfinished ones are completed. In a checkout,
`python tools/prepare_data.py` is the same command.
"""
import argparse
import os
import sys
import time

from edvr.cli import arg_types
from edvr.cli.command import parse_and_run
from edvr.config import find_config
from edvr.errors import ConfigError
from edvr.utils import stopping
from edvr.utils.writer import refuse_overlap
from edvr.prepare.common import default_workers, format_bytes
from edvr.prepare.demo import demo_is_complete, make_demo_dataset


def run_demo(args):
    if demo_is_complete(args.root) and not args.force:
        print(f'demo dataset in {args.root} is complete; reusing it (--force rebuilds)')
        return 0
    start = time.perf_counter()
    info = make_demo_dataset(args.root)
    h, w = info['gt_size']
    lh, lw = info['lq_size']
    print(f'demo dataset written to {args.root} in {time.perf_counter() - start:.1f} s: '
          f'{len(info["train_clips"])} training clips, held-out clip(s) '
          f'{", ".join(info["test_clips"])}; GT {h}x{w}, LQ {lh}x{lw}')
    return 0


def _degradations(text):
    items = [t.strip().upper() for t in text.split(',') if t.strip()]
    if not items or any(t not in ('BI', 'BD') for t in items):
        raise argparse.ArgumentTypeError(f'expected BI, BD or BI,BD, got {text!r}')
    return tuple(items)


def run_reds(args):
    from edvr.prepare.reds import prepare_reds
    refuse_overlap([('--root', args.root)], [('--src', args.src)], contains=False)
    report = prepare_reds(args.src, args.root, args.mode, args.workers, args.verify, args.no_val,
                          args.frames_per_clip, args.gt_size, args.train_clips, args.val_clips)
    variants = ', '.join(f'{k} ({v} clips)' for k, v in report.items()
                         if k not in ('meta', 'frames'))
    print(f'REDS laid out in {args.root}: {variants}; {report["meta"]} lists '
          f'{report["frames"]} frames')


def run_vimeo90k(args):
    from edvr.prepare.vimeo90k import prepare_vimeo90k
    root = args.root or os.path.dirname(os.path.abspath(args.src))
    splits = tuple(s.strip() for s in args.splits.split(',') if s.strip())
    if not splits or any(s not in ('train', 'test') for s in splits):
        raise ConfigError(f'--splits {args.splits!r}: expected train, test or train,test')
    refuse_overlap([('--root', root)], [('--src', args.src)], contains=False)
    report = prepare_vimeo90k(args.src, root, splits, args.degradations,
                              args.workers, args.verify)
    counts = ', '.join(f'{k} {v}' for k, v in report['septuplets'].items())
    written = ', '.join(f'{k} {v}' for k, v in report['written'].items())
    print(f'Vimeo-90K: septuplets {counts}; meta files {", ".join(report["meta"].values())}; '
          f'LQ frames written: {written or "none"} (finished ones are kept)')


def run_testset(args):
    from edvr.prepare.testsets import prepare_testset
    gt = args.gt or os.path.join(args.root, 'GT')
    refuse_overlap([('--root', os.path.join(args.root, f'{d}x4')) for d in args.degradations],
                   [('--gt', gt)])
    report = prepare_testset(args.root, args.command, args.gt, args.degradations, args.workers,
                             args.verify)
    written = ', '.join(f'{k} {v}' for k, v in report['written'].items())
    print(f'{args.command}: {report["clips"]} clips, {report["frames"]} GT frames; '
          f'LQ frames written: {written} (finished ones are kept)')


def run_video(args):
    from edvr.prepare.video import prepare_video, read_video_template, write_video_config
    from edvr.utils.output_paths import check_output_folder
    check_output_folder(args.root, '--root')
    template = find_config(args.config_template) if args.lq else None
    if template:
        read_video_template(template)  # a bad template stops us before any frame is written
    report = prepare_video(args.video, args.root, args.clip, args.lq, args.degradation,
                           args.step, args.max_frames)
    state = 'already complete; kept' if report['skipped'] else f'{report["frames"]} frames written'
    print(f'clip {report["clip"]}: {state} in {report["gt"]}'
          + (f' and {report["lq"]}' if report['lq'] else ''))
    if report['lq']:
        config = write_video_config(template, args.root, report)
        print(f'train on it: python tools/main.py -c {config}')


def run_pack(args):
    from edvr.prepare.pack import pack_folder
    start = time.perf_counter()
    report = pack_folder(args.src, args.out, args.codec, args.workers, args.verify)
    if report['skipped']:
        print(f'{report["out"]} is a complete packed store already ({report["frames"]} frames); '
              f'kept')
        return
    print(f'packed {report["frames"]} frames of {report["clips"]} clips into {report["out"]} '
          f'({format_bytes(report["bytes"])}, {time.perf_counter() - start:.1f} s); '
          f'read it with io_backend: lmdb and lq_folder/gt_folder pointing at the store')


def _common(parser, workers=True, verify=True):
    if workers:
        parser.add_argument('--workers', type=arg_types.int_range(1, 512, 'a process count'),
                            default=default_workers(),
                            help='parallel processes (default: the available cores)')
    if verify:
        parser.add_argument('--verify', action='store_true',
                            help='decode every input frame while checking (slower); by default '
                                 'PNG headers and end markers are checked')


def build_parser():
    parser = arg_types.Parser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)

    demo = sub.add_parser('demo', help='build the REDS-layout demo dataset from bundled photos')
    demo.add_argument('--root', default='data/demo', type=arg_types.path_text, help='destination folder')
    demo.add_argument('--force', action='store_true', help='rebuild even if complete')
    demo.set_defaults(func=run_demo)

    reds = sub.add_parser('reds', help='lay out the official REDS archives (val -> clips 240-269)')
    reds.add_argument('--src', required=True, type=arg_types.path_text, help='folder holding the extracted archives')
    reds.add_argument('--root', default='data/REDS', type=arg_types.path_text, help='output folder')
    reds.add_argument('--mode', choices=('symlink', 'copy', 'move'), default='symlink',
                      help='how clip folders get into --root (default symlink: no extra disk)')
    reds.add_argument('--no-val', action='store_true', help='leave out clips 240-269')
    reds.add_argument('--frames-per-clip', type=arg_types.int_range(1, 10 ** 6, 'a frame count'),
                      default=100)
    reds.add_argument('--gt-size', type=arg_types.frame_size, default=(720, 1280),
                      help='HxW of GT frames')
    reds.add_argument('--train-clips', type=arg_types.int_range(0, 10 ** 5, 'a clip count'),
                      default=240)
    reds.add_argument('--val-clips', type=arg_types.int_range(0, 10 ** 5, 'a clip count'),
                      default=30)
    _common(reds)
    reds.set_defaults(func=run_reds)

    vimeo = sub.add_parser('vimeo90k', help='meta files and BI/BD x4 LQ of Vimeo-90K septuplets')
    vimeo.add_argument('--src', required=True, type=arg_types.path_text, help='the extracted vimeo_septuplet folder')
    vimeo.add_argument('--root', default=None, type=arg_types.path_text, help='output folder (default: parent of --src)')
    vimeo.add_argument('--splits', default='train,test', help='train, test or train,test')
    vimeo.add_argument('--degradations', type=_degradations, default=('BI', 'BD'),
                       help='BI, BD or BI,BD (default both)')
    _common(vimeo)
    vimeo.set_defaults(func=run_vimeo90k)

    for name, root in (('vid4', 'data/Vid4'), ('udm10', 'data/udm10')):
        testset = sub.add_parser(name, help=f'BIx4/BDx4 LQ of {name} from its GT clips')
        testset.add_argument('--root', default=root, type=arg_types.path_text, help='folder with GT/<clip>/<frame>.png')
        testset.add_argument('--gt', default=None, type=arg_types.path_text, help='GT folder if not <root>/GT')
        testset.add_argument('--degradations', type=_degradations, default=('BI', 'BD'))
        _common(testset)
        testset.set_defaults(func=run_testset)

    video = sub.add_parser('video', help='a video file to a clip of frames (and x4 LQ)')
    video.add_argument('video', type=arg_types.path_text, help='video file (anything OpenCV reads)')
    video.add_argument('--root', default='data/mine', type=arg_types.path_text, help='output folder')
    video.add_argument('--clip', default=None, type=clip_name, help='clip name (default: the file name)')
    video.add_argument('--lq', action='store_true', help='also write x4 LQ frames and a config')
    video.add_argument('--degradation', choices=('BI', 'BD'), default='BI')
    video.add_argument('--step', type=arg_types.int_range(1, 10 ** 4, 'a frame step'), default=1,
                       help='keep every STEP-th frame')
    video.add_argument('--max-frames', type=arg_types.int_range(1, 10 ** 8, 'a frame count'),
                       default=None)
    video.add_argument('--config-template', default='edvr_m_wo_tsa', type=arg_types.path_text,
                       help='config (file or shipped name) the written training config is based on')
    video.set_defaults(func=run_video)

    pack = sub.add_parser('pack', help='pack a folder of clips into a fast LMDB frame store')
    pack.add_argument('src', type=arg_types.path_text, help='folder of clip folders (e.g. data/REDS/train_sharp/X4)')
    pack.add_argument('out', type=arg_types.path_text, help='store to write (e.g. data/REDS/train_sharp_X4.lmdb)')
    pack.add_argument('--codec', choices=('raw', 'png'), default='raw',
                      help='raw: uint8 pixels, crops read only what they need (default); '
                           'png: smaller, each read decodes the whole frame')
    _common(pack)
    pack.set_defaults(func=run_pack)
    return parser


def clip_name(text):
    """A clip (folder) name: no folders, not empty."""
    if not text.strip() or '/' in text or os.sep in text or text in ('.', '..') or '\0' in text:
        raise argparse.ArgumentTypeError(f'expected a clip name without folders, got {text!r}')
    return text


def _run(args):
    with stopping.task(f'prepare {args.command}', 'finished outputs are kept, unfinished ones '
                       'removed; the same command completes the rest'):
        return args.func(args)


def main(argv=None):
    return parse_and_run(build_parser(), _run, argv)


if __name__ == '__main__':
    sys.exit(main())
