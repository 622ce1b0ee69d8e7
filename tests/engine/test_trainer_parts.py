# SPDX-License-Identifier: Apache-2.0
"""The trainer's validation, log line and choices, on a trainer holding only what each part
reads (no training): the log lines, the best score and best_weight.pdparams, what a
checkpoint evaluation uses, which seed counts."""
import collections
import os
import signal
import types

import numpy as np
import paddle
import pytest

import edvr.engine.trainer as trainer_module
from edvr.config import AttrDict
from edvr.engine.stop_signals import StopSignals
from edvr.engine.trainer import Trainer, _evaluated_weights, _first_given
from edvr.errors import ConfigError
from edvr.utils.logger import setup_logger


class Records:
    """VisualDL stand-in keeping what was written."""

    def __init__(self):
        self.written = []

    def scalars(self, values, step, prefix):
        self.written.append((prefix, step, dict(values)))


def scripted(monkeypatch, results, arguments=None):
    """``evaluate`` returning the next of ``results``; its calls are recorded (and the
    arguments it was given, into ``arguments``)."""
    calls, pending = [], list(results)

    def evaluate(restore, loader, metrics, min_max, save_dir=None, suffix='', rank=0,
                 world_size=1, desc='validate'):
        calls.append(dict(save_dir=save_dir, suffix=suffix, rank=rank, world_size=world_size))
        if arguments is not None:
            arguments.append((restore, loader, metrics, min_max))
        return pending.pop(0)
    monkeypatch.setattr(trainer_module, 'evaluate', evaluate)
    return calls


def result(psnr, ssim=0.5, clips=None):
    clips = clips or {'000': psnr}
    return {'psnr': psnr, 'ssim': ssim, 'per_clip': {'psnr': clips, 'ssim': {c: ssim for c in clips}}}


def stub(tmp_path, cfg=None, rank=0):
    paddle.seed(0)
    trainer = Trainer.__new__(Trainer)
    trainer.cfg = AttrDict(cfg or {})
    trainer.rank, trainer.world_size = rank, 1
    trainer.run_dir = str(tmp_path)
    trainer.logger = setup_logger(None, 0)
    trainer.writer = Records()
    trainer.model = types.SimpleNamespace(generator=paddle.nn.Linear(2, 2), test_iter=None)
    trainer.test_loader, trainer.metrics, trainer.min_max = ['batch'], {}, (0., 1.)
    trainer.best, trainer.ema, trainer.last_validation = {}, None, (None, None)
    trainer._baseline = result(20.0, 0.25, {'000': 20.0, '011': 21.0})
    return trainer


def lines(capsys):
    """The log lines printed since the last call, as 'LEVEL: message'."""
    return [line.split('] ', 1)[1] for line in capsys.readouterr().out.splitlines()]


def saved_weights(path):
    return {k: v.numpy() for k, v in paddle.load(path)['generator'].items()}


def test_validation_logs_scores_per_clip_beside_the_bicubic_ones(tmp_path, monkeypatch,
                                                                 capsys):
    trainer = stub(tmp_path)
    trainer.world_size, trainer.min_max = 3, (0., 255.)
    trainer.model.test_iter, trainer.metrics = object(), {'psnr': object()}
    arguments = []
    calls = scripted(monkeypatch, [result(30.25, 0.875, {'000': 30.0, '011': 30.5})], arguments)
    got = trainer.validate(4)
    assert got['psnr'] == 30.25 and trainer.last_validation == (4, got)
    assert calls == [dict(save_dir=None, suffix='_4', rank=0, world_size=3)]
    (restore, loader, metrics, min_max), = arguments
    assert restore is trainer.model.test_iter and loader is trainer.test_loader
    assert metrics is trainer.metrics and min_max == (0., 255.)
    assert lines(capsys) == [
        'INFO: validation at iteration 4: psnr: 30.2500, ssim: 0.8750',
        'INFO:   psnr per clip (bicubic): 000: 30.0000 (20.0000), 011: 30.5000 (21.0000)',
        'INFO:   ssim per clip (bicubic): 000: 0.8750 (0.2500), 011: 0.8750 (0.2500)']
    assert trainer.writer.written == [('val', 4, {'psnr': 30.25, 'ssim': 0.875})]


def test_the_best_moves_only_on_a_higher_score(tmp_path, monkeypatch):
    trainer = stub(tmp_path)
    scripted(monkeypatch, [result(30.0), result(29.0), result(31.0), result(31.0), result(30.5)])
    best_file = os.path.join(str(tmp_path), 'best_weight.pdparams')
    seen = {}
    for it in (1, 2, 3, 4, 5):
        with paddle.no_grad():
            trainer.generator.weight.set_value(np.full([2, 2], it, 'float32'))
        trainer.validate(it)
        seen[it] = (dict(trainer.best), saved_weights(best_file)['weight'][0, 0])
    assert seen == {1: ({'psnr': 30.0, 'iter': 1}, 1.0), 2: ({'psnr': 30.0, 'iter': 1}, 1.0),
                    3: ({'psnr': 31.0, 'iter': 3}, 3.0), 4: ({'psnr': 31.0, 'iter': 3}, 3.0),
                    5: ({'psnr': 31.0, 'iter': 3}, 3.0)}
    assert type(trainer.best['psnr']) is float


def test_the_best_follows_the_configured_metric(tmp_path, monkeypatch):
    trainer = stub(tmp_path, {'snapshot_config': {'best_metric': 'ssim'}})
    scripted(monkeypatch, [result(30.0, 0.9), result(35.0, 0.8)])
    trainer.validate(1)
    trainer.validate(2)
    assert trainer.best == {'ssim': 0.9, 'iter': 1}
    trainer = stub(tmp_path / 'x', {'snapshot_config': {'best_metric': 'lpips'}})
    scripted(monkeypatch, [result(30.0)])
    trainer.validate(1)
    assert trainer.best == {} and not os.path.exists(tmp_path / 'x' / 'best_weight.pdparams')


def test_a_resumed_best_is_beaten_only_by_a_higher_score(tmp_path, monkeypatch):
    trainer = stub(tmp_path)
    trainer.best = {'psnr': 31.0, 'iter': 2}
    scripted(monkeypatch, [result(31.0), result(-1.0)])
    trainer.validate(3)
    trainer.validate(4)
    assert trainer.best == {'psnr': 31.0, 'iter': 2}
    assert os.listdir(tmp_path) == []


def test_only_rank_0_writes_best_weights(tmp_path, monkeypatch):
    trainer = stub(tmp_path, rank=1)
    scripted(monkeypatch, [result(-50.0)])
    trainer.validate(2)
    assert trainer.best == {'psnr': -50.0, 'iter': 2} and os.listdir(tmp_path) == []


def test_an_evaluation_is_not_a_validation(tmp_path, monkeypatch, capsys):
    trainer = stub(tmp_path, {'validate': {'save_img': True}})
    calls = scripted(monkeypatch, [result(30.0), result(30.0)])
    trainer.validate()
    assert lines(capsys)[0] == 'INFO: validation at evaluation: psnr: 30.0000, ssim: 0.5000'
    assert trainer.best == {} and trainer.writer.written == [] and os.listdir(tmp_path) == []
    assert calls[-1] == dict(save_dir=os.path.join(str(tmp_path), 'visual_test'), suffix='',
                             rank=0, world_size=1)
    trainer.validate(3, save_img=False)
    assert calls[-1]['save_dir'] is None and calls[-1]['suffix'] == '_3'


def test_validation_without_a_test_set_is_refused(tmp_path):
    trainer = stub(tmp_path)
    trainer.test_loader = None
    with pytest.raises(ConfigError) as info:
        trainer.validate(1)
    assert str(info.value) == 'dataset.test: missing; evaluation needs a test dataset'


def test_the_log_line_names_iteration_rate_losses_speed_and_eta(tmp_path, capsys):
    trainer = stub(tmp_path)
    trainer.total_iters, trainer.batch_size = 3700, 4
    offsets = iter([2.5, 150.0])
    trainer.model.generator.get_dcn_offset_mean = lambda: next(offsets)
    window = {'reader_cost': collections.deque([0.5, 0.25]),
              'batch_cost': collections.deque([1.0, 3.0]),
              'loss_pixel': collections.deque([2.0, 4.0]), 'loss_extra': collections.deque([1.0])}
    trainer._log(100, 2.5e-4, window)
    assert lines(capsys) == [
        'INFO: iter: 100/3700 lr: 2.500e-04 loss_pixel: 3.0000 loss_extra: 1.0000 dcn_offset: 2.500 '
        'batch_cost: 2.0000 sec, reader_cost: 0.3750 sec, ips: 2.0000 samples/s eta: 02:00:00']
    assert trainer.writer.written == [
        ('train', 100, {'dcn_offset_abs_mean': 2.5}),
        ('train', 100, {'loss_pixel': 3.0, 'loss_extra': 1.0}), ('train', 100, {'lr': 2.5e-4})]
    trainer._log(3700, 1e-3, window)
    assert lines(capsys) == [
        'WARNING: iteration 3700: mean absolute DCN offset 150.0 > 100; EDVR training is likely '
        'diverging',
        'INFO: iter: 3700/3700 lr: 1.000e-03 loss_pixel: 3.0000 loss_extra: 1.0000 dcn_offset: 150.000 '
        'batch_cost: 2.0000 sec, reader_cost: 0.3750 sec, ips: 2.0000 samples/s eta: 00:00:00']


@pytest.mark.parametrize('offset, levels', [(100.0, ['INFO']), (100.5, ['WARNING', 'INFO'])])
def test_an_offset_above_100_warns(tmp_path, capsys, offset, levels):
    trainer = stub(tmp_path)
    trainer.total_iters, trainer.batch_size = 10, 1
    trainer.model.generator.get_dcn_offset_mean = lambda: offset
    trainer._log(1, 1e-3, {'batch_cost': [1.0], 'reader_cost': [0.0], 'loss_pixel': [1.0]})
    assert [line.split(':')[0] for line in lines(capsys)] == levels


def test_a_checkpoint_evaluation_uses_its_ema_weights_when_it_has_them():
    assert _evaluated_weights(None) is None and _evaluated_weights({}) is None
    assert _evaluated_weights({'generator': 1}) == 'generator'
    assert _evaluated_weights({'generator': 1, 'generator_ema': 2}) == 'generator_ema'


def test_the_first_given_seed_counts_even_when_it_is_zero():
    assert _first_given(None, 0, 5) == 0 and type(_first_given(None, 0, 5)) is int
    assert _first_given(None, None, np.int64(7)) == 7 and _first_given('3', 1) == 3
    assert _first_given(9, 1, 2) == 9


class Signals:
    """StopSignals stand-in: asks to stop after iteration ``at`` (``received`` as given)."""

    def __init__(self, at=None, received=None):
        self.at, self.received, self.asked = at, received, []
        self.iteration = 0

    def should_stop(self, world_size):
        self.asked.append(world_size)
        return self.at is not None and len(self.asked) >= self.at


def looping(tmp_path, monkeypatch, cfg, start=0, total=6, test_loader=True, ema=False,
            world_size=1):
    """A trainer whose loop parts record what they are asked, in order; its clock moves
    one second per reading."""
    trainer = stub(tmp_path, cfg)
    trainer.world_size = world_size
    clock = iter(range(1000))
    monkeypatch.setattr(trainer_module, 'time', types.SimpleNamespace(time=lambda: next(clock)))
    trainer.train_cfg, trainer.train_set, trainer.seed = {'x': 1}, list(range(9)), 5
    trainer.batch_size, trainer.total_iters, trainer.current_iter = 2, total, start
    trainer.test_loader = ['batch'] if test_loader else None
    events, rates = [], iter([0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01])
    loader_args = []

    def build_train_loader(*args, **kwargs):
        loader_args.append((args, kwargs))
        return iter(f'batch{i}' for i in range(100)), None
    monkeypatch.setattr(trainer_module, 'build_train_loader', build_train_loader)

    def train_iter(batch, optimizer, it):
        assert optimizer is trainer.optimizer
        events.append(('train', it, batch))
        return {'loss_pixel': float(it), 'loss_b': 2.0 * it}
    trainer.model.train_iter = train_iter
    lr = [next(rates)]
    trainer.optimizer = types.SimpleNamespace(get_lr=lambda: lr[0])

    def step():
        events.append(('scheduler', trainer.current_iter))
        lr[0] = next(rates)
    trainer.scheduler = types.SimpleNamespace(step=step)
    if ema:
        trainer.ema = types.SimpleNamespace(update=lambda net: events.append(
            ('ema', trainer.current_iter, net is trainer.generator)))
    trainer._log = lambda it, rate, window: events.append(
        ('log', it, rate, list(window['loss_pixel']), list(window['loss_b']),
         list(window['batch_cost']), list(window['reader_cost'])))
    trainer._save_train_visual = lambda it: events.append(('visual', it))
    trainer.validate = lambda it: events.append(('validate', it))
    trainer.save = lambda it: events.append(('save', it))
    return trainer, events, loader_args


INTERVALS = {'log_config': {'interval': 2, 'visiual_interval': 3},
             'validate': {'interval': 2}, 'snapshot_config': {'interval': 4}}


def test_the_loop_does_each_check_at_its_interval_from_a_resumed_iteration(tmp_path,
                                                                           monkeypatch, capsys):
    trainer, events, loader_args = looping(tmp_path, monkeypatch, INTERVALS, start=1, total=6,
                                           ema=True)
    assert trainer._train_loop(Signals()) is None
    assert loader_args == [((trainer.train_cfg, trainer.train_set, 5, 0, 1), {'start_iter': 1})]
    assert trainer.current_iter == 6
    # the EMA follows the optimizer step; the rate logged is the one the step used; the
    # scheduler steps before the iteration counts as done
    assert events == [
        ('train', 2, 'batch0'), ('ema', 1, True), ('scheduler', 1),
        ('log', 2, 0.5, [2.0], [4.0], [2], [1]), ('validate', 2),
        ('train', 3, 'batch1'), ('ema', 2, True), ('scheduler', 2), ('visual', 3),
        ('train', 4, 'batch2'), ('ema', 3, True), ('scheduler', 3),
        ('log', 4, 0.3, [3.0, 4.0], [6.0, 8.0], [2, 2], [1, 1]), ('validate', 4), ('save', 4),
        ('train', 5, 'batch3'), ('ema', 4, True), ('scheduler', 4),
        ('train', 6, 'batch4'), ('ema', 5, True), ('scheduler', 5),
        ('log', 6, 0.1, [5.0, 6.0], [10.0, 12.0], [2, 2], [1, 1]), ('visual', 6), ('validate', 6),
        ('save', 6)]
    assert lines(capsys) == ['INFO: training iterations 2..6, batch 2 per process, 9 samples']


def test_without_intervals_only_the_last_iteration_logs_and_saves(tmp_path, monkeypatch):
    cfg = {'log_config': {'interval': 0, 'visiual_interval': 0}, 'validate': {'interval': 0},
           'snapshot_config': {'interval': 0}}
    trainer, events, _ = looping(tmp_path, monkeypatch, cfg, total=3)
    trainer._train_loop(Signals())
    assert [e for e in events if e[0] not in ('train', 'scheduler')] == [('save', 3)]
    cfg['log_config']['interval'], cfg['validate']['interval'] = 2, 1   # no test set: no validation
    trainer, events, _ = looping(tmp_path, monkeypatch, cfg, total=3, test_loader=False)
    trainer._train_loop(Signals())
    assert [e[:2] for e in events if e[0] not in ('train', 'scheduler')] == \
        [('log', 2), ('log', 3), ('save', 3)]
    assert [e for e in events if e[0] == 'log'][-1][3:] == ([2.0, 3.0], [4.0, 6.0], [2, 2], [1, 1])
    cfg['log_config']['interval'] = 1                        # each line: that iteration alone
    trainer, events, _ = looping(tmp_path, monkeypatch, cfg, total=2)
    trainer._train_loop(Signals())
    assert [e[3:] for e in events if e[0] == 'log'] == [([1.0], [2.0], [2], [1]),
                                                         ([2.0], [4.0], [2], [1])]


def test_a_stop_request_saves_that_iteration_and_says_how_to_resume(tmp_path, monkeypatch,
                                                                    capsys):
    for received, name, world_size in ((signal.SIGINT, 'SIGINT', 1), (None, 'SIGTERM', 2)):
        trainer, events, _ = looping(tmp_path, monkeypatch, INTERVALS, total=6,
                                     world_size=world_size)
        monkeypatch.setattr(trainer_module.dist, 'barrier', lambda: events.append(('barrier',)))
        signals = Signals(at=3, received=received)
        assert trainer._train_loop(signals) == (received or signal.SIGTERM)
        assert signals.asked == [world_size] * 3
        # with several processes none exits while rank 0 still writes
        expected = [('train', 3, 'batch2'), ('save', 3)] + [('barrier',)] * (world_size > 1)
        assert [e for e in events if e[0] in ('save', 'train', 'barrier')][-3:] == \
            [('train', 2, 'batch1')] * (world_size == 1) + expected
        checkpoint = os.path.join(str(tmp_path), 'iter_3_checkpoint.pdparams')
        assert lines(capsys)[-1] == f'INFO: stopped by {name} after iteration 3; resume with ' \
                                    f'--resume {checkpoint}'


def snapshotting(tmp_path, cfg=None, ema=False, scaler=None):
    from edvr.engine.ema import WeightAverage
    trainer = stub(tmp_path, cfg)
    net = trainer.generator
    trainer.scheduler = paddle.optimizer.lr.StepDecay(0.1, step_size=1, gamma=0.5)
    trainer.optimizer = paddle.optimizer.Adam(learning_rate=trainer.scheduler,
                                              parameters=net.parameters())
    trainer.seed, trainer.best = 11, {'psnr': 30.0, 'iter': 2}
    trainer.model.amp = {'scaler': scaler} if scaler else None
    if ema:
        trainer.ema = WeightAverage(net, 0.5)
    for _ in range(2):
        net(paddle.ones([1, 2])).sum().backward()
        trainer.optimizer.step()
        trainer.optimizer.clear_grad()
        trainer.scheduler.step()
        if ema:
            trainer.ema.update(net)
    return trainer


def test_a_snapshot_holds_what_resume_needs_and_publishes_the_ema_weights(tmp_path):
    from edvr import weights
    trainer = snapshotting(tmp_path, ema=True)
    net = trainer.generator
    trainer._write_snapshot(4)
    assert sorted(os.listdir(tmp_path)) == ['iter_4_checkpoint.pdparams', 'iter_4_weight.pdparams']
    state = weights.read_checkpoint(str(tmp_path / 'iter_4_checkpoint.pdparams'))
    assert sorted(state) == ['best', 'generator', 'generator_ema', 'iter', 'lr_scheduler',
                             'optimizer', 'seed']
    assert (state['iter'], state['seed'], state['best']) == (4, 11, {'psnr': 30.0, 'iter': 2})
    assert state['lr_scheduler']['last_epoch'] == 2 and state['lr_scheduler']['last_lr'] == 0.025
    assert sorted(k for k in state['optimizer'] if 'moment1' in k) == \
        ['bias_moment1_0', 'weight_moment1_0']
    raw = {k: v.numpy() for k, v in net.state_dict().items()}
    average = {k: np.asarray(v) for k, v in trainer.ema.state_dict().items()}
    assert any(not np.array_equal(raw[k], average[k]) for k in raw)
    published = saved_weights(str(tmp_path / 'iter_4_weight.pdparams'))
    for key in raw:
        np.testing.assert_array_equal(state['generator'][key], raw[key], err_msg=key)
        np.testing.assert_array_equal(np.asarray(state['generator_ema'][key]), average[key])
        np.testing.assert_array_equal(published[key], average[key], err_msg=key)
        np.testing.assert_array_equal(net.state_dict()[key].numpy(), raw[key])  # restored


def test_a_snapshot_without_ema_keeps_the_scaler_and_prunes_to_max_keep(tmp_path):
    from edvr import weights

    class Scaler:
        def state_dict(self):
            return {'scale': 1024.0}
    trainer = snapshotting(tmp_path, {'snapshot_config': {'max_keep': 2}}, scaler=Scaler())
    for it in (2, 4, 6):
        trainer._write_snapshot(it)
    assert sorted(os.listdir(tmp_path)) == [f'iter_{i}_{kind}.pdparams' for i in (4, 6)
                                            for kind in ('checkpoint', 'weight')]
    state = weights.read_checkpoint(str(tmp_path / 'iter_6_checkpoint.pdparams'))
    assert 'generator_ema' not in state and state['scaler'] == {'scale': 1024.0}
    published = saved_weights(str(tmp_path / 'iter_6_weight.pdparams'))
    for key, value in trainer.generator.state_dict().items():
        np.testing.assert_array_equal(published[key], value.numpy(), err_msg=key)


def test_a_save_writes_on_rank_0_after_the_processes_agree(tmp_path, monkeypatch, capsys):
    trainer = snapshotting(tmp_path)
    trainer.world_size = 2
    with paddle.no_grad():    # float32 would lose the ones beside 1e8: the sum is in float64
        trainer.generator.weight.set_value(np.array([[1e8, 1], [1, 1]], 'float32'))
        trainer.generator.bias.set_value(np.array([1, 1], 'float32'))
    gathered = []
    monkeypatch.setattr(trainer_module, 'gather', lambda value: gathered.append(value) or
                        [value, value])
    trainer.save(4)
    checksum = 100000005.0
    assert gathered == [checksum]
    assert lines(capsys) == [f'INFO: weights identical on all 2 processes (checksum {checksum:.10g})',
                             f'INFO: saved checkpoint iter_4 in {tmp_path}']
    assert sorted(os.listdir(tmp_path)) == ['iter_4_checkpoint.pdparams', 'iter_4_weight.pdparams']
    other = snapshotting(tmp_path / 'rank1')
    other.rank, other.world_size = 1, 2
    other.save(4)
    checksum = sum(float(p.astype('float64').sum()) for p in other.generator.parameters())
    assert lines(capsys) == [f'INFO: weights identical on all 2 processes (checksum {checksum:.10g})']
    assert not os.path.exists(tmp_path / 'rank1')
    single = snapshotting(tmp_path / 'single')
    os.mkdir(tmp_path / 'single')
    monkeypatch.setattr(trainer_module, 'gather', None)      # one process: nothing to compare
    single.save(2)
    assert lines(capsys) == [f'INFO: saved checkpoint iter_2 in {tmp_path / "single"}']


def test_processes_holding_different_weights_stop(tmp_path, monkeypatch):
    from edvr.errors import TrainingError
    trainer = snapshotting(tmp_path)
    trainer.world_size = 2
    monkeypatch.setattr(trainer_module, 'gather', lambda value: [value, value + 1])
    checksum = sum(float(p.astype('float64').sum()) for p in trainer.generator.parameters())
    with pytest.raises(TrainingError) as info:
        trainer.save(4)
    assert str(info.value) == (f'weights differ across processes (checksums {[checksum, checksum + 1]}); '
                               'the processes no longer train the same model')
    assert os.listdir(tmp_path) == []


def test_a_full_disk_names_the_file_and_what_was_kept(tmp_path, monkeypatch):
    import errno
    from edvr import weights
    from edvr.errors import TrainingError
    trainer = snapshotting(tmp_path)
    trainer.config_path = 'configs/x.yaml'
    trainer._write_snapshot(2)

    def full(obj, path):
        raise OSError(errno.ENOSPC, 'No space left on device', path)
    monkeypatch.setattr(weights, 'save_atomic', full)
    kept = tmp_path / 'iter_2_checkpoint.pdparams'
    with pytest.raises(TrainingError) as info:
        trainer.save(4)
    assert str(info.value) == (
        f'{tmp_path / "iter_4_weight.pdparams"}: no space left on device, not written; kept '
        f'{kept}; free space, then continue: python tools/main.py -c configs/x.yaml --resume {kept}')
    with pytest.raises(TrainingError) as info:
        trainer._save_best_weights()
    assert str(info.value) == (
        f'{tmp_path / "best_weight.pdparams"}: no space left on device, not written; kept '
        f'{kept}; free space, then continue: python tools/main.py -c configs/x.yaml --resume {kept}')


def test_best_weights_are_the_ema_ones_when_the_run_keeps_an_average(tmp_path):
    trainer = snapshotting(tmp_path, ema=True)
    raw = {k: v.numpy() for k, v in trainer.generator.state_dict().items()}
    trainer._save_best_weights()
    saved = saved_weights(str(tmp_path / 'best_weight.pdparams'))
    for key, value in trainer.ema.state_dict().items():
        np.testing.assert_array_equal(saved[key], np.asarray(value), err_msg=key)
        assert not np.array_equal(saved[key], raw[key])
        np.testing.assert_array_equal(trainer.generator.state_dict()[key].numpy(), raw[key])


def test_a_training_error_names_the_last_good_checkpoint(tmp_path):
    from edvr.errors import TrainingError
    trainer = stub(tmp_path)

    def fails(signals):
        raise TrainingError('iteration 3: the loss is nan')
    trainer._train_loop = fails
    with pytest.raises(TrainingError) as info:
        trainer.train()
    assert str(info.value) == 'iteration 3: the loss is nan; last good checkpoint: none yet'
    (tmp_path / 'iter_2_checkpoint.pdparams').write_bytes(b'x')
    with pytest.raises(TrainingError) as info:
        trainer.train()
    assert str(info.value) == ('iteration 3: the loss is nan; last good checkpoint: '
                               f'{tmp_path / "iter_2_checkpoint.pdparams"}')
    trainer._train_loop = lambda signals: 15 if isinstance(signals, StopSignals) else None
    assert trainer.train() == 15


def test_the_bicubic_baseline_is_scored_once_from_the_centre_frames(tmp_path, monkeypatch):
    trainer = stub(tmp_path, {'validate': {'metrics': {'psnr': {'name': 'PSNR', 'crop_border': 4}}}})
    trainer._baseline = None
    trainer.model.generator.scale_factor = 4
    trainer.min_max, trainer.rank, trainer.world_size = (0., 255.), 1, 3
    seen = []

    def evaluate(restore, loader, metrics, min_max, save_dir=None, suffix='', rank=0,
                 world_size=1, desc='validate'):
        lq = paddle.to_tensor(np.zeros((1, 3, 3, 2, 2), 'float32'))
        lq[:, 1] = 255.0                                    # the centre frame, white
        seen.append((restore(lq).shape, float(restore(lq).min()), loader, sorted(metrics),
                     metrics['psnr'].crop_border, min_max, save_dir, rank, world_size, desc))
        return {'psnr': 1.0}
    monkeypatch.setattr(trainer_module, 'evaluate', evaluate)
    assert trainer.bicubic_baseline() == {'psnr': 1.0}
    assert trainer.bicubic_baseline() == {'psnr': 1.0}
    assert seen == [([1, 3, 8, 8], 255.0, trainer.test_loader, ['psnr'], 4, (0., 255.), None, 1, 3,
                     'bicubic')]
