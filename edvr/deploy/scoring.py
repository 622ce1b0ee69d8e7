# SPDX-License-Identifier: Apache-2.0
"""Score a `Predictor` on a config's dataset: PSNR/SSIM per frame and clip, next to bicubic."""
import paddle

from edvr import settings
from edvr.datasets.loader import build_dataset, build_eval_loader
from edvr.errors import ConfigError, DataError
from edvr.evaluation import build_metrics, evaluate, upscale_center


def score_dataset(predictor, cfg, split='test', bicubic=True):
    """PSNR/SSIM of ``predictor`` over every sample of the config's ``dataset.<split>``.

    Args:
        predictor: a `Predictor`.
        cfg: loaded config with ``dataset.<split>`` and ``validate.metrics``
            (default: the settings' PSNR and SSIM).
        split: which dataset of the config.
        bicubic: also score the bicubic upscale of the centre frame.

    Returns:
        {'model': {metric: mean, 'per_clip': ...}, 'bicubic': ... (if asked),
        'frames': number of frames scored}.
    """
    from edvr import components  # noqa: F401  (registers every component)

    data_cfg = (cfg.get('dataset') or {}).get(split)
    if not data_cfg:
        raise ConfigError(f'dataset.{split}: missing in the config')
    dataset = build_dataset(data_cfg, where=f'dataset.{split}')
    if len(dataset) == 0:
        raise DataError(f'dataset.{split}: no samples')
    loader = build_eval_loader(data_cfg, dataset)
    metrics = build_metrics(settings.value(cfg, 'validate.metrics'))
    report = {'model': evaluate(lambda lq: paddle.to_tensor(predictor.restore(lq)), loader,
                                metrics, predictor.min_max, desc='inference'),
              'frames': len(dataset)}
    if bicubic:
        report['bicubic'] = evaluate(upscale_center(predictor.scale, predictor.min_max), loader,
                                     metrics, predictor.min_max, desc='bicubic')
    return report
