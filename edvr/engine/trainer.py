# SPDX-License-Identifier: Apache-2.0
"""The training loop: build everything from the config, train, validate, snapshot, resume.

Four explicit checks per iteration (log, visualise, validate, snapshot); the
loop owns the iteration counter and hands it to the model.
"""
import collections
import contextlib
import os
import signal
import time

import numpy as np
import paddle
import paddle.distributed as dist

from edvr import components  # noqa: F401  (registers every component)
from edvr import settings, weights
from edvr.config import dump_config
from edvr.datasets.loader import build_dataset, build_eval_loader, build_train_loader
from edvr.engine.distributed import from_rank0, gather, join_process_group, read_checkpoint_everywhere
from edvr.engine.ema import WeightAverage
from edvr.engine.run_folder import config_record_path, disk_full_error, run_folder
from edvr.engine.stop_signals import StopSignals
from edvr.engine.train_visual import save_train_visual
from edvr.engine.visualdl_writer import VisualDLWriter
from edvr.errors import ConfigError, TrainingError
from edvr.evaluation import build_metrics, evaluate, upscale_center
from edvr.models.edvr_model import unwrap
from edvr.registry import MODELS, build_from_config
from edvr.solver import build_lr_scheduler, build_optimizer
from edvr.utils.device import select_device, tune_cpu_runtime
from edvr.utils.logger import setup_logger
from edvr.utils.output_paths import full_disk_raises


class Trainer:
    """Trains and evaluates one model described by a config.

    Args:
        cfg: the loaded config (AttrDict).
        config_path: the config file (names the run folder).
        seed: run seed; None picks one (logged and saved, so resume reuses it).
        resume: a full checkpoint to continue from.
        load: a weights file to start from (fine-tune or evaluate).
        amp, amp_level: float16 mixed precision on GPU (CPU: a warning, float32).
        evaluate_only: build only what evaluation needs.
        notes: warnings of `edvr.settings.check_settings` when the caller
            already checked ``cfg``; None checks it here.
    """

    def __init__(self, cfg, config_path=None, seed=None, resume=None, load=None,
                 amp=False, amp_level='O1', evaluate_only=False, notes=None):
        tune_cpu_runtime()   # process-wide MKL/allocator settings, before any computation
        self.cfg = cfg
        if notes is None:
            notes = settings.check_settings(cfg, training=not evaluate_only)
        self.config_path = config_path
        self.world_size = dist.get_world_size()
        self.rank = dist.get_rank()
        join_process_group()
        resume_state = read_checkpoint_everywhere(resume) if resume else None
        # an evaluation of a checkpoint writes into a new run folder, never into that run's
        self.run_dir = run_folder(cfg, config_path, None if evaluate_only else resume)
        self.logger = setup_logger(None, self.rank)  # the log file opens once all is built
        device = select_device(int(os.environ.get('PADDLE_LOCAL_RANK', self.rank)),
                               int(os.environ.get('PADDLE_LOCAL_SIZE', self.world_size)))
        self.seed = int(resume_state['seed']) if resume_state else from_rank0(  # one seed for all
            _first_given(seed, settings.value(cfg, 'seed'), np.random.randint(0, 2**31 - 1)))
        paddle.seed(self.seed)
        np.random.seed(self.seed + self.rank)

        self.model = build_from_config(cfg.get('model'), MODELS, where='model')
        if load:
            weights.load_generator_weights(self.model.generator, load)
        evaluated = _evaluated_weights(resume_state) if evaluate_only else None
        if evaluated:
            weights.set_generator_state(self.model.generator, resume_state[evaluated], resume)
        self.min_max = tuple(settings.value(cfg, 'min_max'))
        self.metrics = build_metrics(settings.value(cfg, 'validate.metrics'))
        test_cfg = (cfg.get('dataset') or {}).get('test')
        self.test_loader = None
        if test_cfg:
            test_set = build_dataset(test_cfg, where='dataset.test')
            self.test_loader = build_eval_loader(test_cfg, test_set, self.rank, self.world_size)
        self.current_iter = 0
        self.best = {}
        self.last_validation = (None, None)
        self.ema = None
        self._baseline = None
        if not evaluate_only:
            self._build_training(resume, resume_state, amp, amp_level)
        self._open_run_folder(None if evaluate_only else resume_state)
        self.logger.info(f'device: {device}; processes: {self.world_size}; seed: {self.seed}')
        for line in notes:
            self.logger.warning(line)
        unused = settings.unused_keys(cfg)
        if unused:
            self.logger.info('accepted but unused (PaddleGAN keys): ' + ', '.join(unused))
        if load:
            self.logger.info(f'loaded weights {load}')
        if evaluated:
            self.current_iter = int(resume_state['iter'])
            self.logger.info(f'evaluating the {"EMA " if evaluated == "generator_ema" else ""}'
                             f'weights of {resume} (iteration {self.current_iter})')
        elif resume_state:
            self.logger.info(f'resumed from {resume} at iteration {self.current_iter}')

    def _open_run_folder(self, resume_state):
        """Create the run folder (rank 0) only now that the config has built without error.

        A resumed run keeps the original config.yaml and records its own
        settings beside it as config.resume-<iteration>.yaml.
        """
        if self.rank == 0:
            try:
                os.makedirs(self.run_dir, exist_ok=True)
            except OSError as exc:
                raise TrainingError(f'output_dir: cannot create the run folder {self.run_dir} '
                                    f'({exc.strerror or exc})') from None
            dump_config(self.cfg, config_record_path(
                self.run_dir, resume_state['iter'] if resume_state else None))
        self.logger = setup_logger(self.run_dir, self.rank)
        self.logger.info(f'run folder: {self.run_dir}')
        self.writer = VisualDLWriter(self.run_dir, settings.value(self.cfg, 'enable_visualdl')
                                     and self.rank == 0)

    def _build_training(self, resume, resume_state, amp, amp_level):
        cfg = self.cfg
        train_cfg = (cfg.get('dataset') or {}).get('train')
        if not train_cfg:
            raise ConfigError('dataset.train: missing; training needs a training dataset')
        self.train_set = build_dataset(train_cfg, where='dataset.train')
        self.batch_size = settings.value(cfg, 'dataset.train.batch_size')
        self.train_cfg = train_cfg
        self.scheduler = build_lr_scheduler(cfg.get('lr_scheduler'))
        params = self.model.generator.parameters()
        self.optimizer = build_optimizer(cfg.get('optimizer'), self.scheduler, params)
        if amp and 'gpu' in paddle.get_device():
            if amp_level == 'O2':  # O2 casts the weights themselves to float16 (paddle.amp.decorate)
                self.logger.warning('--amp_level O2 is not supported (checkpoints, EMA and resume keep '
                                    'float32 weights); training with O1')
                amp_level = 'O1'
            scaler = paddle.amp.GradScaler(init_loss_scaling=1024)
            self.model.enable_amp(amp_level, 'float16', scaler)
        elif amp:  # Paddle's auto_cast only acts on CUDA/XPU/custom devices
            self.logger.warning('--amp: Paddle runs mixed precision only on GPU-like devices; '
                                'on CPU this run trains in float32')
        if resume_state:
            weights.set_generator_state(self.model.generator, resume_state['generator'], resume)
            weights.load_portable_optimizer_state(self.optimizer, self.model.generator,
                                               resume_state['optimizer'])
            self.scheduler.set_state_dict(resume_state['lr_scheduler'])
            self.current_iter = int(resume_state['iter'])
            self.best = dict(resume_state.get('best', {}))
            if self.amp_scaler and 'scaler' in resume_state:
                self.amp_scaler.load_state_dict(resume_state['scaler'])
        if self.world_size > 1:
            unused = bool(settings.value(cfg, 'find_unused_parameters') or self.model.tsa_iter)
            self.model.nets['generator'] = paddle.DataParallel(
                self.model.generator, find_unused_parameters=unused)
        if settings.value(cfg, 'ema_decay'):  # after DataParallel gave every rank rank 0's weights
            self.ema = WeightAverage(self.generator, settings.value(cfg, 'ema_decay'))
            if resume_state and 'generator_ema' in resume_state:
                self.ema.set_state_dict(resume_state['generator_ema'])
        per_epoch = max(-(-len(self.train_set) // self.world_size) // self.batch_size, 1)
        self.total_iters = settings.value(cfg, 'total_iters') or \
            settings.value(cfg, 'epochs') * per_epoch

    @property
    def amp_scaler(self):
        """The float16 loss scaler (GPU AMP), or None."""
        return self.model.amp['scaler'] if self.model.amp else None

    def eval_weights(self):
        """Context in which the generator holds the weights to evaluate and publish (EMA if on)."""
        return self.ema.applied(self.generator) if self.ema else contextlib.nullcontext()

    @property
    def generator(self):
        """The bare generator (unwrapped from DataParallel)."""
        return unwrap(self.model.generator)

    def train(self):
        """Run iterations current_iter+1 .. total_iters.

        Returns:
            None when finished, or the signal number if SIGINT/SIGTERM stopped it
            (after saving a checkpoint of the last completed iteration).
        """
        with StopSignals() as signals:
            try:
                return self._train_loop(signals)
            except TrainingError as exc:
                last = weights.latest_checkpoint(self.run_dir)
                raise TrainingError(f'{exc}; last good checkpoint: {last or "none yet"}') from None

    def close(self):
        """Flush and close the VisualDL records."""
        self.writer.close()

    def _train_loop(self, signals):
        log_every = settings.value(self.cfg, 'log_config.interval')
        visual_every = settings.value(self.cfg, 'log_config.visiual_interval')
        val_every = settings.value(self.cfg, 'validate.interval')
        snap_every = settings.value(self.cfg, 'snapshot_config.interval')
        loader, _ = build_train_loader(self.train_cfg, self.train_set, self.seed, self.rank,
                                       self.world_size, start_iter=self.current_iter)
        batches = iter(loader)
        window = collections.defaultdict(lambda: collections.deque(maxlen=max(log_every, 1)))
        start_iter = self.current_iter
        self.logger.info(f'training iterations {start_iter + 1}..{self.total_iters}, '
                         f'batch {self.batch_size} per process, {len(self.train_set)} samples')
        tic = time.time()
        for current_iter in range(start_iter + 1, self.total_iters + 1):
            batch = next(batches)
            window['reader_cost'].append(time.time() - tic)
            losses = self.model.train_iter(batch, self.optimizer, current_iter)
            if self.ema:
                self.ema.update(self.generator)
            lr = self.optimizer.get_lr()
            self.scheduler.step()
            self.current_iter = current_iter
            window['batch_cost'].append(time.time() - tic)
            for name, value in losses.items():
                window[name].append(value)
            if log_every and (current_iter % log_every == 0 or current_iter == self.total_iters):
                self._log(current_iter, lr, window)
            if visual_every and current_iter % visual_every == 0:
                self._save_train_visual(current_iter)
            if val_every and current_iter % val_every == 0 and self.test_loader is not None:
                self.validate(current_iter)
            stop = signals.should_stop(self.world_size)
            if stop or (snap_every and current_iter % snap_every == 0) \
                    or current_iter == self.total_iters:
                self.save(current_iter)
            if stop:
                if self.world_size > 1:
                    dist.barrier()  # no process exits while rank 0 is still writing
                name = signal.Signals(signals.received or signal.SIGTERM).name
                self.logger.info(f'stopped by {name} after iteration {current_iter}; resume with '
                                 f'--resume {os.path.join(self.run_dir, f"iter_{current_iter}_checkpoint.pdparams")}')
                return signals.received or signal.SIGTERM
            tic = time.time()
        return None

    def _log(self, current_iter, lr, window):
        """One log line; speed and ETA follow the mean of the last log interval's iterations."""
        mean = {k: sum(v) / len(v) for k, v in window.items()}
        eta = mean['batch_cost'] * (self.total_iters - current_iter)
        losses = ' '.join(f'{k}: {v:.4f}' for k, v in mean.items() if k.startswith('loss'))
        offset = getattr(self.generator, 'get_dcn_offset_mean', lambda: None)()
        if offset is not None:
            losses += f' dcn_offset: {offset:.3f}'
            if offset > 100:
                self.logger.warning(f'iteration {current_iter}: mean absolute DCN offset {offset:.1f} '
                                    f'> 100; EDVR training is likely diverging')
            self.writer.scalars({'dcn_offset_abs_mean': offset}, current_iter, 'train')
        self.logger.info(
            f'iter: {current_iter}/{self.total_iters} lr: {lr:.3e} {losses} '
            f'batch_cost: {mean["batch_cost"]:.4f} sec, reader_cost: {mean["reader_cost"]:.4f} sec, '
            f'ips: {self.batch_size / mean["batch_cost"]:.4f} samples/s '
            f'eta: {time.strftime("%H:%M:%S", time.gmtime(eta))}')
        self.writer.scalars({k: v for k, v in mean.items() if k.startswith('loss')}, current_iter, 'train')
        self.writer.scalars({'lr': lr}, current_iter, 'train')

    def _save_train_visual(self, current_iter):
        if self.rank != 0 or not self.model.visuals:
            return
        path = os.path.join(self.run_dir, 'visual_train', f'iter_{current_iter:08d}.png')
        image = save_train_visual(self.model.visuals, self.min_max, path, self.logger)
        self.writer.image('train/lq_output_gt', image, current_iter)

    def validate(self, current_iter=None, save_img=None):
        """Evaluate on dataset.test; logs and returns {metric: mean} (+ 'per_clip')."""
        if self.test_loader is None:
            raise ConfigError('dataset.test: missing; evaluation needs a test dataset')
        save_img = settings.value(self.cfg, 'validate.save_img') if save_img is None else save_img
        # every rank writes the frames it scored, into rank 0's run folder
        save_dir = from_rank0(os.path.join(self.run_dir, 'visual_test')) if save_img else None
        suffix = f'_{current_iter}' if current_iter else ''
        with self.eval_weights():
            result = evaluate(self.model.test_iter, self.test_loader, self.metrics, self.min_max,
                              save_dir, suffix, self.rank, self.world_size)
        where = f'iteration {current_iter}' if current_iter else 'evaluation'
        self.logger.info(f'validation at {where}: ' + self._summary(result))
        baseline = self.bicubic_baseline()['per_clip']
        for name, clips in result['per_clip'].items():
            self.logger.info(f'  {name} per clip (bicubic): ' + ', '.join(
                f'{c}: {v:.4f} ({baseline[name][c]:.4f})' for c, v in clips.items()))
        self.last_validation = (current_iter, result)
        if current_iter:
            self.writer.scalars({k: v for k, v in result.items() if k != 'per_clip'}, current_iter, 'val')
            metric = settings.value(self.cfg, 'snapshot_config.best_metric')
            score = result.get(metric)
            if score is not None and score > self.best.get(metric, -np.inf):
                self.best = {metric: float(score), 'iter': current_iter}
                if self.rank == 0:
                    self._save_best_weights()
        return result

    def _save_best_weights(self):
        with full_disk_raises(lambda exc: disk_full_error(exc, self.run_dir, self.config_path)), \
                self.eval_weights():
            weights.save_atomic({'generator': self.generator.state_dict()},
                             os.path.join(self.run_dir, 'best_weight.pdparams'))

    def bicubic_baseline(self):
        """Scores of the bicubic upscale of each centre LQ frame (the number to beat); computed once."""
        if self._baseline is None:
            scale = int(self.generator.scale_factor)
            self._baseline = evaluate(
                upscale_center(scale, self.min_max), self.test_loader,
                build_metrics(settings.value(self.cfg, 'validate.metrics')), self.min_max,
                rank=self.rank, world_size=self.world_size, desc='bicubic')
        return self._baseline

    def _check_replicas_agree(self):
        """Compare a weight checksum across processes; they must hold identical weights."""
        checksum = float(sum(float(p.astype('float64').sum()) for p in self.generator.parameters()))
        sums = gather(checksum)
        if len(set(sums)) > 1:
            raise TrainingError(f'weights differ across processes (checksums {sums}); '
                                f'the processes no longer train the same model')
        self.logger.info(f'weights identical on all {self.world_size} processes '
                         f'(checksum {checksum:.10g})')

    @staticmethod
    def _summary(result):
        return ', '.join(f'{k}: {v:.4f}' for k, v in result.items() if k != 'per_clip')

    def save(self, current_iter):
        """Write weights and a full checkpoint for ``current_iter`` (rank 0), keep the newest few."""
        if self.world_size > 1:
            self._check_replicas_agree()
        if self.rank != 0:
            return
        with full_disk_raises(lambda exc: disk_full_error(exc, self.run_dir, self.config_path)):
            self._write_snapshot(current_iter)
        self.logger.info(f'saved checkpoint iter_{current_iter} in {self.run_dir}')

    def _write_snapshot(self, current_iter):
        with self.eval_weights():
            weights.save_atomic({'generator': self.generator.state_dict()},
                             os.path.join(self.run_dir, f'iter_{current_iter}_weight.pdparams'))
        state = dict(generator=self.generator.state_dict(),
                     optimizer=weights.portable_optimizer_state(self.optimizer, self.generator),
                     lr_scheduler=self.scheduler.state_dict(), iter=current_iter,
                     seed=self.seed, best=self.best)
        if self.ema:
            state['generator_ema'] = self.ema.state_dict()
        if self.amp_scaler:
            state['scaler'] = self.amp_scaler.state_dict()
        weights.save_atomic(state, os.path.join(self.run_dir, f'iter_{current_iter}_checkpoint.pdparams'))
        weights.prune_checkpoints(self.run_dir, settings.value(self.cfg, 'snapshot_config.max_keep'))


def _evaluated_weights(state):
    """Which weights of a checkpoint an evaluation uses: the EMA ones if the run kept them."""
    if not state:
        return None
    return 'generator_ema' if 'generator_ema' in state else 'generator'


def _first_given(*values):
    """The first value that is not None, as an int."""
    return int(next(v for v in values if v is not None))
