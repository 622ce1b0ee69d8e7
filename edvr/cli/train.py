# SPDX-License-Identifier: Apache-2.0
"""Train or evaluate EDVR: edvr-train -c CONFIG [-o key=value ...] [--resume | --load ...].

Parses the flags, checks the settings, builds the Trainer, trains or evaluates, and
reports the final scores next to bicubic (`python tools/main.py` in a checkout).
"""
import json
import os
import sys

from edvr.cli import arg_types
from edvr.cli.command import parse_and_run
from edvr.config import find_config, load_config
from edvr.errors import EDVRError, Stopped
from edvr.settings import check_settings, input_paths, value
from edvr.utils.output_paths import check_output_folder, full_disk_raises, write_atomic


def build_parser():
    parser = arg_types.Parser(description='Train or evaluate EDVR from a YAML config.')
    parser.add_argument('-c', '--config-file', required=True, type=arg_types.path_text,
                        help='YAML config file, or the name of a shipped config (edvr_demo)')
    parser.add_argument('-o', '--opt', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override config keys, e.g. -o total_iters=100 dataset.train.batch_size=2')
    parser.add_argument('--resume', type=arg_types.path_text,
                        help='full checkpoint (iter_*_checkpoint.pdparams) to continue from, or '
                             '"auto": the newest checkpoint of this config in output_dir; with '
                             '--evaluate-only, the checkpoint to evaluate (its EMA weights if any)')
    parser.add_argument('--load', type=arg_types.path_text, help='weights (.pdparams) to start from or to evaluate')
    parser.add_argument('--evaluate-only', action='store_true', help='evaluate on dataset.test only')
    parser.add_argument('--seed', type=arg_types.seed, help='seed for a repeatable run')
    parser.add_argument('--amp', action='store_true', help='mixed precision (float16 with loss scaling; GPU only)')
    parser.add_argument('--amp_level', default='O1', choices=['O1', 'O2'], help='AMP level')
    return parser


def prepare_demo_data(cfg):
    """Build the demo clips the config's ``demo_data`` key asks for (a folder, or
    ``{root: ..., <make_demo_dataset arguments>}``), unless already built."""
    spec = value(cfg, 'demo_data')
    if spec:
        from edvr.prepare.demo import ensure_demo_dataset
        spec = dict(spec) if isinstance(spec, dict) else {'root': spec}
        ensure_demo_dataset(**spec)


def run(args):
    """Train or evaluate as ``args`` say; returns the final scores."""
    args.config_file = find_config(args.config_file)  # the run folder is named after it
    cfg = load_config(args.config_file, args.opt)
    notes = check_settings(cfg, training=not args.evaluate_only)
    from edvr.engine.distributed import decide_on_rank0, join_process_group
    from edvr.engine.run_folder import auto_resume_checkpoint
    from edvr.engine.trainer import Trainer  # imports paddle: after config errors are out
    if args.resume == 'auto':
        join_process_group()  # rank 0 looks, every rank resumes the same file
        args.resume = decide_on_rank0(auto_resume_checkpoint, cfg, args.config_file)
        print(f'--resume auto: {args.resume or "no checkpoint found, starting a new run"}')
    if args.resume and args.load:
        raise EDVRError('--resume and --load: give one (a checkpoint already holds the weights)')
    if args.evaluate_only and not (args.load or args.resume):
        print('warning: --evaluate-only without --load or --resume evaluates freshly '
              'initialised weights', file=sys.stderr)
    if not args.resume or args.evaluate_only:
        from edvr.engine.run_folder import run_folder
        from edvr.utils.writer import refuse_overlap
        check_output_folder(value(cfg, 'output_dir'), 'output_dir')
        refuse_overlap([('output_dir', run_folder(cfg, args.config_file))],
                       input_paths(cfg) + [('--load', args.load), ('--resume', args.resume)])
    prepare_demo_data(cfg)
    trainer = Trainer(cfg, args.config_file, seed=args.seed, resume=args.resume, load=args.load,
                      amp=args.amp, amp_level=args.amp_level, evaluate_only=args.evaluate_only,
                      notes=notes)
    try:
        return _train_and_report(trainer, args)
    finally:
        trainer.close()


def _train_and_report(trainer, args):
    if not args.evaluate_only:
        stopped_by = trainer.train()
        if stopped_by:
            return {'stopped_by': stopped_by}
    if trainer.test_loader is None:
        return {}
    validated_at, model = trainer.last_validation
    if args.evaluate_only or validated_at != trainer.current_iter:
        model = trainer.validate(None if args.evaluate_only else trainer.current_iter)
    baseline = trainer.bicubic_baseline()
    report = {'iteration': trainer.current_iter,
              'model': {k: v for k, v in model.items() if k != 'per_clip'},
              'bicubic': {k: v for k, v in baseline.items() if k != 'per_clip'},
              'per_clip': {name: {clip: {'model': score, 'bicubic': baseline['per_clip'][name][clip]}
                                  for clip, score in clips.items()}
                           for name, clips in model['per_clip'].items()}}
    lines = [f'{name}: model {report["model"][name]:.4f} vs bicubic {report["bicubic"][name]:.4f}'
             for name in report['model']]
    trainer.logger.info('final scores on dataset.test: ' + '; '.join(lines))
    for name, clips in report['per_clip'].items():
        trainer.logger.info(f'  {name} per clip, model vs bicubic: ' + ', '.join(
            f'{clip}: {s["model"]:.4f} vs {s["bicubic"]:.4f}' for clip, s in clips.items()))
    if trainer.rank == 0:
        path = os.path.join(trainer.run_dir, 'final_scores.json')
        with full_disk_raises(lambda exc: EDVRError(
                f'{path}: no space left on device, not written; the scores are in '
                f'{os.path.join(trainer.run_dir, "log.txt")} and the weights are kept; '
                f'free space, then re-run with --evaluate-only --load <weights>')):
            write_atomic(path, json.dumps(report, indent=2))
    return report


def train(args):
    """`run`, with a clean stop by a signal turned into its exit code (`Stopped`)."""
    report = run(args)
    if report.get('stopped_by'):
        from edvr.engine.stop_signals import stop_exit_code
        raise Stopped(stop_exit_code(report['stopped_by']))
    return report


def main(argv=None):
    return parse_and_run(build_parser(), train, argv)


if __name__ == '__main__':
    sys.exit(main())
