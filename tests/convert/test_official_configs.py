# SPDX-License-Identifier: Apache-2.0
"""Configs of the converted official models: they load, match what conversion infers, and run.

The last tests take docs/weights.md's path end to end on tiny stand-ins: write a
BasicSR checkpoint, convert it with the tool, evaluate with the config through
`tools/main.py`'s entry point, and compare a restored frame with BasicSR's
forward pass in numpy.
"""
import glob
import json
import os

import numpy as np
import pytest

from edvr import components  # noqa: F401
from edvr.config import load_config
from edvr.convert.basicsr import basicsr_to_paddle
from edvr.convert.convert import config_mismatches
from edvr.convert.infer_arch import infer_edvr_args
from edvr.datasets.image_io import read_image, write_image
from edvr.cli.train import main as edvr_main
from edvr.datasets.loader import build_dataset
from edvr.metrics import tensor2img
from edvr.registry import MODELS, build_from_config
from tests.convert.numpy_edvr import BasicSREDVR
from tests.convert.source_layers import REAL, basicsr_checkpoint, random_weights, source_layers
from tests.convert.torch_writer import save_legacy, save_zip
from tests.tiny import ROOT, make_tiny_data
from tools.convert_weights import main as convert_main

OFFICIAL = {
    'edvr_l_x4_sr_reds_official.yaml': 'EDVR_L_x4_SR_REDS',
    'edvr_m_x4_sr_reds_official.yaml': 'EDVR_M_x4_SR_REDS',
    'edvr_l_deblur_reds_official.yaml': 'EDVR_L_deblur_REDS',
    'edvr_l_x4_sr_vimeo90k_official.yaml': 'EDVR_L_x4_SR_Vimeo90K',
    'edvr_l_x4_sr_vimeo90k_official_vid4.yaml': 'EDVR_L_x4_SR_Vimeo90K',
}
TINY_NET = ['model.generator.nf=8', 'model.generator.groups=2', 'model.generator.front_RBs=1',
            'model.generator.back_RBs=1']


def config_path(name):
    return os.path.join(ROOT, 'configs', name)


def real_args(name):
    """What conversion infers from a published checkpoint's shapes (no values needed)."""
    shapes = {f'{layer}.{p}': np.broadcast_to(np.float32(0), shape if p == 'weight' else shape[:1])
              for layer, _, shape in source_layers(REAL[name]) for p in ('weight', 'bias')}
    return infer_edvr_args(basicsr_to_paddle(shapes, name), name)


def test_every_official_and_vid4_config_is_covered():
    found = {os.path.basename(p) for p in glob.glob(config_path('*official*.yaml'))
             + glob.glob(config_path('*vid4*.yaml'))}
    assert found == set(OFFICIAL)


@pytest.mark.parametrize('config', list(OFFICIAL))
def test_config_matches_the_converted_weights(config):
    name = OFFICIAL[config]
    args = real_args(name)
    assert config_mismatches(args, config_path(config)) == []
    cfg = load_config(config_path(config))
    model = build_from_config(cfg.model, MODELS, where='model')
    count = sum(int(np.prod(s)) + s[0] for _, _, s in source_layers(REAL[name]))
    assert sum(int(p.size) for p in model.generator.parameters()) == count
    metrics = cfg.validate.metrics
    y = 'vimeo90k' in config
    assert metrics.psnr.test_y_channel is y and metrics.ssim.test_y_channel is y
    assert metrics.psnr.crop_border == 0 and metrics.ssim.crop_border == 0


def make_vid4(root, clips=('calendar', 'city'), frames=9, gt=(32, 48), seed=0):
    """Vid4's layout: GT/<clip>/%08d.png and BIx4/<clip>/%08d.png (LQ by 4x4 averaging)."""
    rng = np.random.default_rng(seed)
    for clip in clips:
        for i in range(frames):
            img = rng.integers(0, 256, gt + (3,), dtype=np.uint8)
            lq = img.reshape(gt[0] // 4, 4, gt[1] // 4, 4, 3).mean((1, 3)).round().astype(np.uint8)
            write_image(os.path.join(root, 'GT', clip, f'{i:08d}.png'), img)
            write_image(os.path.join(root, 'BIx4', clip, f'{i:08d}.png'), lq)
    return root


def make_vimeo(root, seqs=('00001/0001', '00001/0002'), gt=(32, 32)):
    rng = np.random.default_rng(1)
    for seq in seqs:
        for i in range(1, 8):
            img = rng.integers(0, 256, gt + (3,), dtype=np.uint8)
            write_image(os.path.join(root, 'gt', seq, f'im{i}.png'), img)
            write_image(os.path.join(root, 'lq', seq, f'im{i}.png'), img[::4, ::4])
    with open(os.path.join(root, 'train.txt'), 'w') as f:
        f.write(''.join(f'{s} 7 ({gt[0]},{gt[1]},3)\n' for s in seqs))
    return root


@pytest.mark.parametrize('config', ['edvr_l_x4_sr_vimeo90k_official.yaml',
                                    'edvr_l_x4_sr_vimeo90k_official_vid4.yaml'])
def test_vid4_and_vimeo_datasets_build(tmp_path, config):
    vid4 = make_vid4(str(tmp_path / 'Vid4'))
    overrides = [f'dataset.test.lq_folder={vid4}/BIx4', f'dataset.test.gt_folder={vid4}/GT']
    if 'train' in load_config(config_path(config)).dataset:
        vimeo = make_vimeo(str(tmp_path / 'Vimeo90K'))
        overrides += [f'dataset.train.dataset.lq_folder={vimeo}/lq',
                      f'dataset.train.dataset.gt_folder={vimeo}/gt',
                      f'dataset.train.dataset.ann_file={vimeo}/train.txt',
                      'dataset.train.dataset.preprocess.2.pipeline.0.gt_patch_size=16']
    cfg = load_config(config_path(config), overrides)
    test = build_dataset(cfg.dataset.test, 'dataset.test')
    assert len(test) == 18                     # every frame of both clips
    sample = test[0]
    assert sample['lq'].shape == (7, 3, 8, 12) and sample['gt'].shape == (3, 32, 48)
    if 'train' in cfg.dataset:
        train = build_dataset(cfg.dataset.train, 'dataset.train')
        sample = train[0]
        assert sample['lq'].shape == (7, 3, 4, 4) and sample['gt'].shape == (3, 16, 16)


def _run_folder(out):
    (folder,) = glob.glob(os.path.join(out, '*-*'))
    return folder


def test_vid4_download_convert_evaluate(tmp_path):
    """The three commands of docs/weights.md on a tiny 7-frame BasicSR model and a tiny Vid4."""
    arch = dict(REAL['EDVR_L_x4_SR_Vimeo90K'], nf=8, groups=2, front_RBs=1, back_RBs=1)
    weights = random_weights(arch, seed=7)
    src, dst = str(tmp_path / 'EDVR_tiny_Vimeo90K.pth'), str(tmp_path / 'edvr_tiny.pdparams')
    save_legacy(basicsr_checkpoint(weights), src)
    config = config_path('edvr_l_x4_sr_vimeo90k_official_vid4.yaml')
    assert convert_main([src, dst]) == 0
    vid4 = make_vid4(str(tmp_path / 'Vid4'), clips=('walk',))
    out = str(tmp_path / 'out')
    assert edvr_main(['-c', config, '--evaluate-only', '--load', dst, '-o', *TINY_NET,
                      f'dataset.test.lq_folder={vid4}/BIx4', f'dataset.test.gt_folder={vid4}/GT',
                      f'output_dir={out}', 'validate.save_img=true']) == 0
    folder = _run_folder(out)
    with open(os.path.join(folder, 'final_scores.json')) as f:
        scores = json.load(f)['model']
    assert set(scores) == {'psnr', 'ssim'} and np.isfinite(scores['psnr'])
    # frame 4 of 9: its 7-frame window (1..7) needs no padding; restore it in numpy as BasicSR would
    window = np.stack([read_image(os.path.join(vid4, 'BIx4', 'walk', f'{i:08d}.png'))
                       for i in range(1, 8)]).transpose(0, 3, 1, 2)[None] / 255.0
    expected = tensor2img(BasicSREDVR(weights, arch)(window.astype(np.float32))[0])
    (saved,) = glob.glob(os.path.join(folder, 'visual_test', 'walk', '00000004*.png'))
    diff = np.abs(read_image(saved).astype(int) - expected.astype(int))
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def test_reds_download_convert_evaluate(tmp_path):
    """Same on a REDS4-like stand-in with the EDVR-M config, from a zip-format checkpoint."""
    arch = dict(REAL['EDVR_M_x4_SR_REDS'], nf=8, groups=2, front_RBs=1, back_RBs=1)
    src, dst = str(tmp_path / 'EDVR_tiny.pth'), str(tmp_path / 'edvr_tiny.pdparams')
    save_zip(basicsr_checkpoint(random_weights(arch, seed=8)), src)
    config = config_path('edvr_m_x4_sr_reds_official.yaml')
    assert convert_main([src, dst]) == 0
    data = make_tiny_data(tmp_path / 'reds')
    out = str(tmp_path / 'out')
    assert edvr_main(['-c', config, '--evaluate-only', '--load', dst, '-o', *TINY_NET,
                      f'dataset.test.lq_folder={data}/REDS4_test_sharp_bicubic/X4',
                      f'dataset.test.gt_folder={data}/REDS4_test_sharp/X4',
                      f'dataset.test.ann_file={data}/meta_info_REDS_GT.txt',
                      f'output_dir={out}']) == 0
    with open(os.path.join(_run_folder(out), 'final_scores.json')) as f:
        assert np.isfinite(json.load(f)['model']['psnr'])
