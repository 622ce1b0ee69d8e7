# SPDX-License-Identifier: Apache-2.0
"""What `tools/main.py` does: parse flags, build the Trainer, train or evaluate, report."""
import argparse
import json
import os
import sys

from edvr.config import load_config
from edvr.errors import EDVRError


def build_parser():
    parser = argparse.ArgumentParser(description='Train or evaluate EDVR from a YAML config.')
    parser.add_argument('-c', '--config-file', required=True, help='YAML config file')
    parser.add_argument('-o', '--opt', nargs='+', default=[], metavar='KEY=VALUE',
                        help='override config keys, e.g. -o total_iters=100 dataset.train.batch_size=2')
    parser.add_argument('--resume', help='full checkpoint (iter_*_checkpoint.pdparams) to continue '
                        'from, or "auto": the newest checkpoint of this config in output_dir')
    parser.add_argument('--load', help='weights (.pdparams) to start from or to evaluate')
    parser.add_argument('--evaluate-only', action='store_true', help='evaluate on dataset.test only')
    parser.add_argument('--seed', type=int, help='seed for a repeatable run')
    parser.add_argument('--amp', action='store_true', help='mixed precision (float16 with loss scaling; GPU only)')
    parser.add_argument('--amp_level', default='O1', choices=['O1', 'O2'], help='AMP level')
    return parser


def prepare_demo_data(cfg):
    """Build the demo clips the config's ``demo_data`` key asks for (a folder, or
    ``{root: ..., <make_demo_dataset arguments>}``), unless already built."""
    spec = cfg.get('demo_data')
    if spec:
        from edvr.datasets.demo import ensure_demo_dataset
        spec = dict(spec) if isinstance(spec, dict) else {'root': spec}
        ensure_demo_dataset(**spec)


def run(args):
    """Train or evaluate as ``args`` say; returns the final scores."""
    from edvr.engine.distributed import decide_on_rank0, join_process_group
    from edvr.engine.run_folder import auto_resume_checkpoint
    from edvr.engine.trainer import Trainer  # imports paddle: after argument errors are out
    cfg = load_config(args.config_file, args.opt)
    if args.resume == 'auto':
        join_process_group()  # rank 0 looks, every rank resumes the same file
        args.resume = decide_on_rank0(auto_resume_checkpoint, cfg, args.config_file)
        print(f'--resume auto: {args.resume or "no checkpoint found, starting a new run"}')
    if args.resume and args.load:
        raise EDVRError('--resume and --load: give one (a checkpoint already holds the weights)')
    if args.evaluate_only and not args.load:
        print('warning: --evaluate-only without --load evaluates freshly initialised weights',
              file=sys.stderr)
    prepare_demo_data(cfg)
    trainer = Trainer(cfg, args.config_file, seed=args.seed, resume=args.resume, load=args.load,
                      amp=args.amp, amp_level=args.amp_level, evaluate_only=args.evaluate_only)
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
              'bicubic': {k: v for k, v in baseline.items() if k != 'per_clip'}}
    lines = [f'{name}: model {report["model"][name]:.4f} vs bicubic {report["bicubic"][name]:.4f}'
             for name in report['model']]
    trainer.logger.info('final scores on dataset.test: ' + '; '.join(lines))
    if trainer.rank == 0:
        with open(os.path.join(trainer.run_dir, 'final_scores.json'), 'w') as f:
            json.dump(report, f, indent=2)
    return report


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        report = run(args)
    except EDVRError as exc:
        print(f'error: {exc}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130
    if report.get('stopped_by'):
        from edvr.engine.stop_signals import stop_exit_code
        return stop_exit_code(report['stopped_by'])
    return 0
