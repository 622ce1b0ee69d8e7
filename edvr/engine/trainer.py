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

import cv2
import numpy as np
import paddle
import paddle.distributed as dist

from edvr import components  # noqa: F401  (registers every component)
from edvr.config import dump_config
from edvr.datasets.loader import build_dataset, build_eval_loader, build_train_loader
from edvr.engine import checkpoint as ckpt
from edvr.engine.ema import WeightAverage
from edvr.engine.evaluator import build_metrics, evaluate, upscale_center
from edvr.engine.run_folder import run_folder
from edvr.engine.stop_signals import StopSignals
from edvr.engine.visualdl_writer import VisualDLWriter
from edvr.errors import ConfigError, TrainingError
from edvr.metrics import tensor2img
from edvr.registry import MODELS, build_from_config
from edvr.solver import build_lr_scheduler, build_optimizer
from edvr.utils.device import select_device, tune_cpu_runtime
from edvr.utils.logger import setup_logger


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
    """

    def __init__(self, cfg, config_path=None, seed=None, resume=None, load=None,
                 amp=False, amp_level='O1', evaluate_only=False):
        tune_cpu_runtime()   # process-wide MKL/allocator settings, before any computation
        self.cfg = cfg
        self.world_size = dist.get_world_size()
        self.rank = dist.get_rank()
        if self.world_size > 1:
            dist.init_parallel_env()
        resume_state = ckpt.read_checkpoint(resume) if resume else None
        self.run_dir = run_folder(cfg, config_path, resume)
        self.logger = setup_logger(None, self.rank)  # the log file opens once all is built
        device = select_device(int(os.environ.get('PADDLE_LOCAL_RANK', self.rank)),
                               int(os.environ.get('PADDLE_LOCAL_SIZE', self.world_size)))
        self.seed = int(resume_state['seed']) if resume_state else \
            int(seed if seed is not None else cfg.get('seed', np.random.randint(0, 2**31 - 1)))
        paddle.seed(self.seed)
        np.random.seed(self.seed + self.rank)

        self.model = build_from_config(cfg.get('model'), MODELS, where='model')
        if load:
            ckpt.load_generator_weights(self.model.generator, load)
        self.min_max = tuple(cfg.get('min_max', (0., 1.)))
        self.metrics = build_metrics((cfg.get('validate') or {}).get('metrics'))
        test_cfg = (cfg.get('dataset') or {}).get('test')
        self.test_loader = None
        if test_cfg:
            test_set = build_dataset(test_cfg, where='dataset.test')
            self.test_loader = build_eval_loader(test_cfg, test_set, self.rank, self.world_size)
        self.current_iter = 0
        self.best = {}
        self.last_validation = (None, None)
        self.ema = None
        if not evaluate_only:
            self._build_training(resume, resume_state, amp, amp_level)
        self._open_run_folder()
        self.logger.info(f'device: {device}; processes: {self.world_size}; seed: {self.seed}')
        if load:
            self.logger.info(f'loaded weights {load}')
        if resume_state:
            self.logger.info(f'resumed from {resume} at iteration {self.current_iter}')

    def _open_run_folder(self):
        """Create the run folder (rank 0) only now that the config has built without error."""
        if self.rank == 0:
            os.makedirs(self.run_dir, exist_ok=True)
            dump_config(self.cfg, os.path.join(self.run_dir, 'config.yaml'))
        self.logger = setup_logger(self.run_dir, self.rank)
        self.logger.info(f'run folder: {self.run_dir}')
        self.writer = VisualDLWriter(self.run_dir, self.cfg.get('enable_visualdl', False)
                                     and self.rank == 0)

    def _build_training(self, resume, resume_state, amp, amp_level):
        cfg = self.cfg
        train_cfg = (cfg.get('dataset') or {}).get('train')
        if not train_cfg:
            raise ConfigError('dataset.train: missing; training needs a training dataset')
        self.train_set = build_dataset(train_cfg, where='dataset.train')
        self.batch_size = int(train_cfg.get('batch_size', 1))
        self.train_cfg = train_cfg
        self.scheduler = build_lr_scheduler(cfg.get('lr_scheduler'))
        params = self.model.generator.parameters()
        self.optimizer = build_optimizer(cfg.get('optimizer'), self.scheduler, params)
        if amp and 'gpu' in paddle.get_device():
            scaler = paddle.amp.GradScaler(init_loss_scaling=1024)
            self.model.enable_amp(amp_level, 'float16', scaler)
        elif amp:  # Paddle's auto_cast only acts on CUDA/XPU/custom devices
            self.logger.warning('--amp: Paddle runs mixed precision only on GPU-like devices; '
                                'on CPU this run trains in float32')
        if cfg.get('ema_decay'):
            self.ema = WeightAverage(self.model.generator, cfg['ema_decay'])
        if resume_state:
            ckpt.set_generator_state(self.model.generator, resume_state['generator'], resume)
            ckpt.load_portable_optimizer_state(self.optimizer, self.model.generator,
                                               resume_state['optimizer'])
            self.scheduler.set_state_dict(resume_state['lr_scheduler'])
            self.current_iter = int(resume_state['iter'])
            self.best = dict(resume_state.get('best', {}))
            if self.ema and 'generator_ema' in resume_state:
                self.ema.set_state_dict(resume_state['generator_ema'])
            if self.amp_scaler and 'scaler' in resume_state:
                self.amp_scaler.load_state_dict(resume_state['scaler'])
        if self.world_size > 1:
            unused = bool(cfg.get('find_unused_parameters', False) or self.model.tsa_iter)
            self.model.nets['generator'] = paddle.DataParallel(
                self.model.generator, find_unused_parameters=unused)
        per_epoch = max(-(-len(self.train_set) // self.world_size) // self.batch_size, 1)
        if cfg.get('total_iters'):
            self.total_iters = int(cfg['total_iters'])
        elif cfg.get('epochs'):
            self.total_iters = int(cfg['epochs']) * per_epoch
        else:
            raise ConfigError('total_iters: missing; set total_iters or epochs')

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
        net = self.model.generator
        return getattr(net, '_layers', net)

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
                last = ckpt.latest_checkpoint(self.run_dir)
                raise TrainingError(f'{exc}; last good checkpoint: {last or "none yet"}') from None

    def close(self):
        """Flush and close the VisualDL records."""
        self.writer.close()

    def _train_loop(self, signals):
        cfg = self.cfg
        log_cfg = cfg.get('log_config') or {}
        log_every = int(log_cfg.get('interval', 10))
        visual_every = int(log_cfg.get('visiual_interval', 0) or 0)
        val_every = int((cfg.get('validate') or {}).get('interval', 0) or 0)
        snap_every = int((cfg.get('snapshot_config') or {}).get('interval', 0) or 0)
        loader, _ = build_train_loader(self.train_cfg, self.train_set, self.seed, self.rank,
                                       self.world_size, start_iter=self.current_iter)
        batches = iter(loader)
        window = collections.defaultdict(lambda: collections.deque(maxlen=log_every))
        start_iter, started = self.current_iter, time.time()
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
            if current_iter % log_every == 0 or current_iter == self.total_iters:
                self._log(current_iter, lr, window, started, start_iter)
            if visual_every and current_iter % visual_every == 0:
                self._save_train_visual(current_iter)
            if val_every and current_iter % val_every == 0 and self.test_loader is not None:
                self.validate(current_iter)
            stop = signals.should_stop(self.world_size)
            if stop or (snap_every and current_iter % snap_every == 0) \
                    or current_iter == self.total_iters:
                self.save(current_iter)
            if stop:
                name = signal.Signals(signals.received or signal.SIGTERM).name
                self.logger.info(f'stopped by {name} after iteration {current_iter}; resume with '
                                 f'--resume {os.path.join(self.run_dir, f"iter_{current_iter}_checkpoint.pdparams")}')
                return signals.received or signal.SIGTERM
            tic = time.time()
        return None

    def _log(self, current_iter, lr, window, started, start_iter):
        mean = {k: sum(v) / len(v) for k, v in window.items()}
        done = current_iter - start_iter
        eta = (time.time() - started) / done * (self.total_iters - current_iter)
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
        row = [tensor2img(self.model.visuals[k][0], self.min_max) for k in ('lq', 'output', 'gt')]
        row[0] = cv2.resize(row[0], row[1].shape[1::-1], interpolation=cv2.INTER_NEAREST)
        image = np.concatenate(row, axis=1)
        folder = os.path.join(self.run_dir, 'visual_train')
        os.makedirs(folder, exist_ok=True)
        cv2.imwrite(os.path.join(folder, f'iter_{current_iter:08d}.png'),
                    cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self.writer.image('train/lq_output_gt', image, current_iter)

    def validate(self, current_iter=None, save_img=None):
        """Evaluate on dataset.test; logs and returns {metric: mean} (+ 'per_clip')."""
        if self.test_loader is None:
            raise ConfigError('dataset.test: missing; evaluation needs a test dataset')
        validate_cfg = self.cfg.get('validate') or {}
        save_img = validate_cfg.get('save_img', False) if save_img is None else save_img
        save_dir = os.path.join(self.run_dir, 'visual_test') if save_img and self.rank == 0 else None
        suffix = f'_{current_iter}' if current_iter else ''
        with self.eval_weights():
            result = evaluate(self.model.test_iter, self.test_loader, self.metrics, self.min_max,
                              save_dir, suffix, self.rank, self.world_size)
        where = f'iteration {current_iter}' if current_iter else 'evaluation'
        self.logger.info(f'validation at {where}: ' + self._summary(result))
        for name, clips in result['per_clip'].items():
            self.logger.info(f'  {name} per clip: ' + ', '.join(f'{c}: {v:.4f}' for c, v in clips.items()))
        self.last_validation = (current_iter, result)
        if current_iter:
            self.writer.scalars({k: v for k, v in result.items() if k != 'per_clip'}, current_iter, 'val')
            metric = (self.cfg.get('snapshot_config') or {}).get('best_metric', 'psnr')
            score = result.get(metric)
            if score is not None and score > self.best.get(metric, -np.inf):
                self.best = {metric: float(score), 'iter': current_iter}
                if self.rank == 0:
                    with self.eval_weights():
                        ckpt.save_atomic({'generator': self.generator.state_dict()},
                                         os.path.join(self.run_dir, 'best_weight.pdparams'))
        return result

    def bicubic_baseline(self):
        """Scores of the bicubic upscale of each centre LQ frame (the number to beat)."""
        scale = int((self.cfg.model.get('generator') or {}).get('scale_factor', 4))
        return evaluate(upscale_center(scale, self.min_max), self.test_loader, build_metrics(
            (self.cfg.get('validate') or {}).get('metrics')), self.min_max,
            rank=self.rank, world_size=self.world_size, desc='bicubic')

    def _check_replicas_agree(self):
        """Compare a weight checksum across processes; they must hold identical weights."""
        checksum = float(sum(float(p.astype('float64').sum()) for p in self.generator.parameters()))
        sums = []
        dist.all_gather_object(sums, checksum)
        if len(set(sums)) == 1:
            self.logger.info(f'weights identical on all {self.world_size} processes '
                             f'(checksum {checksum:.10g})')
        else:
            self.logger.warning(f'weights differ across processes: checksums {sums}')

    @staticmethod
    def _summary(result):
        return ', '.join(f'{k}: {v:.4f}' for k, v in result.items() if k != 'per_clip')

    def save(self, current_iter):
        """Write weights and a full checkpoint for ``current_iter`` (rank 0), keep the newest few."""
        if self.world_size > 1:
            self._check_replicas_agree()
        if self.rank != 0:
            return
        with self.eval_weights():
            ckpt.save_atomic({'generator': self.generator.state_dict()},
                             os.path.join(self.run_dir, f'iter_{current_iter}_weight.pdparams'))
        state = dict(generator=self.generator.state_dict(),
                     optimizer=ckpt.portable_optimizer_state(self.optimizer, self.generator),
                     lr_scheduler=self.scheduler.state_dict(), iter=current_iter,
                     seed=self.seed, best=self.best)
        if self.ema:
            state['generator_ema'] = self.ema.state_dict()
        if self.amp_scaler:
            state['scaler'] = self.amp_scaler.state_dict()
        ckpt.save_atomic(state, os.path.join(self.run_dir, f'iter_{current_iter}_checkpoint.pdparams'))
        keep = (self.cfg.get('snapshot_config') or {}).get('max_keep', 5)
        ckpt.prune_checkpoints(self.run_dir, keep)
        self.logger.info(f'saved checkpoint iter_{current_iter} in {self.run_dir}')
