# SPDX-License-Identifier: Apache-2.0
"""PaddleGAN's six EDVR configs, as facts: every setting as a dotted key and its value.

``configs/edvr_*.yaml`` must hold exactly these settings (comments and layout
aside), so a PaddleGAN user's config file and ours are interchangeable. Keys
are dotted paths into the YAML; a list of mappings is indexed by position
(``preprocess.3.pipeline.0.scale``); plain lists stay values. `SHARED` holds
the settings all six agree on, `VARIANTS` what each one sets besides
(from a few groups of settings that several variants share, then its own).

The EDVR tutorial PaddleGAN's users follow spreads one config over several
YAML blocks; merged, they are exactly `TUTORIAL_CONFIG`'s settings.
"""

SHARED = {
    'total_iters': 600000,
    'output_dir': 'output_dir',
    'checkpoints_dir': 'checkpoints',
    'min_max': '(0., 1.)',
    'model.name': 'EDVRModel',
    'model.generator.name': 'EDVRNet',
    'model.generator.in_nf': 3,
    'model.generator.out_nf': 3,
    'model.generator.nframes': 5,
    'model.generator.groups': 8,
    'model.generator.front_RBs': 5,
    'model.generator.center': 2,
    'model.pixel_criterion.name': 'CharbonnierLoss',
    'dataset.train.name': 'RepeatDataset',
    'dataset.train.times': 1000,
    'dataset.train.dataset.name': 'VSRREDSDataset',
    'dataset.train.dataset.gt_folder': 'data/REDS/train_sharp/X4',
    'dataset.train.dataset.ann_file': 'data/REDS/meta_info_REDS_GT.txt',
    'dataset.train.dataset.num_frames': 5,
    'dataset.train.dataset.val_partition': 'REDS4',
    'dataset.train.dataset.test_mode': False,
    'dataset.train.dataset.preprocess.0.name': 'GetFrameIdx',
    'dataset.train.dataset.preprocess.0.interval_list': [1],
    'dataset.train.dataset.preprocess.0.frames_per_clip': 99,
    'dataset.train.dataset.preprocess.1.name': 'ReadImageSequence',
    'dataset.train.dataset.preprocess.1.key': 'lq',
    'dataset.train.dataset.preprocess.2.name': 'ReadImageSequence',
    'dataset.train.dataset.preprocess.2.key': 'gt',
    'dataset.train.dataset.preprocess.3.name': 'Transforms',
    'dataset.train.dataset.preprocess.3.input_keys': ['lq', 'gt'],
    'dataset.train.dataset.preprocess.3.pipeline.0.name': 'SRPairedRandomCrop',
    'dataset.train.dataset.preprocess.3.pipeline.0.gt_patch_size': 256,
    'dataset.train.dataset.preprocess.3.pipeline.0.keys': ['image', 'image'],
    'dataset.train.dataset.preprocess.3.pipeline.1.name': 'PairedRandomHorizontalFlip',
    'dataset.train.dataset.preprocess.3.pipeline.1.keys': ['image', 'image'],
    'dataset.train.dataset.preprocess.3.pipeline.2.name': 'PairedRandomVerticalFlip',
    'dataset.train.dataset.preprocess.3.pipeline.2.keys': ['image', 'image'],
    'dataset.train.dataset.preprocess.3.pipeline.3.name': 'PairedRandomTransposeHW',
    'dataset.train.dataset.preprocess.3.pipeline.3.keys': ['image', 'image'],
    'dataset.train.dataset.preprocess.3.pipeline.4.name': 'TransposeSequence',
    'dataset.train.dataset.preprocess.3.pipeline.4.keys': ['image', 'image'],
    'dataset.train.dataset.preprocess.3.pipeline.5.name': 'NormalizeSequence',
    'dataset.train.dataset.preprocess.3.pipeline.5.mean': [0.0, 0.0, 0.0],
    'dataset.train.dataset.preprocess.3.pipeline.5.std': [255.0, 255.0, 255.0],
    'dataset.train.dataset.preprocess.3.pipeline.5.keys': ['image', 'image'],
    'dataset.test.name': 'VSRREDSDataset',
    'dataset.test.gt_folder': 'data/REDS/REDS4_test_sharp/X4',
    'dataset.test.ann_file': 'data/REDS/meta_info_REDS_GT.txt',
    'dataset.test.num_frames': 5,
    'dataset.test.val_partition': 'REDS4',
    'dataset.test.test_mode': True,
    'dataset.test.preprocess.0.name': 'GetFrameIdxwithPadding',
    'dataset.test.preprocess.0.padding': 'reflection_circle',
    'dataset.test.preprocess.1.name': 'ReadImageSequence',
    'dataset.test.preprocess.1.key': 'lq',
    'dataset.test.preprocess.2.name': 'ReadImageSequence',
    'dataset.test.preprocess.2.key': 'gt',
    'dataset.test.preprocess.3.name': 'Transforms',
    'dataset.test.preprocess.3.input_keys': ['lq', 'gt'],
    'dataset.test.preprocess.3.pipeline.0.name': 'TransposeSequence',
    'dataset.test.preprocess.3.pipeline.0.keys': ['image', 'image'],
    'dataset.test.preprocess.3.pipeline.1.name': 'NormalizeSequence',
    'dataset.test.preprocess.3.pipeline.1.mean': [0.0, 0.0, 0.0],
    'dataset.test.preprocess.3.pipeline.1.std': [255.0, 255.0, 255.0],
    'dataset.test.preprocess.3.pipeline.1.keys': ['image', 'image'],
    'lr_scheduler.name': 'CosineAnnealingRestartLR',
    'lr_scheduler.eta_min': 1e-07,
    'optimizer.name': 'Adam',
    'optimizer.net_names': ['generator'],
    'optimizer.beta1': 0.9,
    'optimizer.beta2': 0.99,
    'validate.save_img': False,
    'validate.metrics.psnr.name': 'PSNR',
    'validate.metrics.psnr.crop_border': 0,
    'validate.metrics.psnr.test_y_channel': False,
    'validate.metrics.ssim.name': 'SSIM',
    'validate.metrics.ssim.crop_border': 0,
    'validate.metrics.ssim.test_y_channel': False,
    'snapshot_config.interval': 5000,
}

# x4 super-resolution from bicubic LQ frames
SR_X4 = {
    'model.generator.scale_factor': 4,
    'model.generator.predeblur': False,
    'model.generator.HR_in': False,
    'dataset.train.num_workers': 3,
    'dataset.train.batch_size': 4,
    'dataset.train.dataset.lq_folder': 'data/REDS/train_sharp_bicubic/X4',
    'dataset.train.dataset.preprocess.3.pipeline.0.scale': 4,
    'dataset.test.lq_folder': 'data/REDS/REDS4_test_sharp_bicubic/X4',
}

# deblurring: blurred input frames of the GT size
DEBLUR = {
    'model.generator.scale_factor': 1,
    'model.generator.predeblur': True,
    'model.generator.HR_in': True,
    'dataset.train.num_workers': 6,
    'dataset.train.batch_size': 8,
    'dataset.train.dataset.lq_folder': 'data/REDS/train_blur/X4',
    'dataset.train.dataset.preprocess.3.pipeline.0.scale': 1,
    'dataset.test.lq_folder': 'data/REDS/REDS4_test_blur/X4',
}

# EDVR-M and EDVR-L sizes
MEDIUM = {
    'model.generator.nf': 64,
    'model.generator.back_RBs': 10,
}

LARGE = {
    'model.generator.nf': 128,
    'model.generator.back_RBs': 40,
}

# TSA variants: TSA trained alone first, and a first 50k cycle
WITH_TSA = {
    'find_unused_parameters': True,
    'model.tsa_iter': 50000,
    'model.generator.w_TSA': True,
    'lr_scheduler.periods': [50000, 100000, 150000, 150000, 150000],
}

VARIANTS = {
    'edvr_m_wo_tsa': dict(**SR_X4, **MEDIUM, **{
        'model.tsa_iter': 0,
        'model.generator.w_TSA': False,
        'model.to_static': False,
        'export_model.0.name': 'generator',
        'export_model.0.inputs_num': 1,
        'lr_scheduler.learning_rate': 0.0004,
        'lr_scheduler.periods': [150000, 150000, 150000, 150000],
        'lr_scheduler.restart_weights': [1, 1, 1, 1],
        'validate.interval': 5000,
        'log_config.interval': 100,
        'log_config.visiual_interval': 5000,
    }),
    'edvr_m_w_tsa': dict(**SR_X4, **MEDIUM, **WITH_TSA, **{
        'export_model.0.name': 'generator',
        'export_model.0.inputs_num': 1,
        'lr_scheduler.learning_rate': 0.0004,
        'lr_scheduler.restart_weights': [1, 1, 1, 1, 1],
        'validate.interval': 5000,
        'log_config.interval': 10,
        'log_config.visiual_interval': 5000,
    }),
    'edvr_l_wo_tsa': dict(**SR_X4, **LARGE, **{
        'model.tsa_iter': 0,
        'model.generator.w_TSA': False,
        'lr_scheduler.learning_rate': 0.0004,
        'lr_scheduler.periods': [150000, 150000, 150000, 150000],
        'lr_scheduler.restart_weights': [1, 0.5, 0.5, 0.5],
        'validate.interval': 5000,
        'log_config.interval': 10,
        'log_config.visiual_interval': 500,
    }),
    'edvr_l_w_tsa': dict(**SR_X4, **LARGE, **WITH_TSA, **{
        'lr_scheduler.learning_rate': 0.0004,
        'lr_scheduler.restart_weights': [1, 0.5, 0.5, 0.5, 0.5],
        'validate.interval': 5000,
        'log_config.interval': 10,
        'log_config.visiual_interval': 5000,
    }),
    'edvr_l_blur_wo_tsa': dict(**DEBLUR, **LARGE, **{
        'model.tsa_iter': False,
        'model.generator.w_TSA': False,
        'lr_scheduler.learning_rate': 0.0002,
        'lr_scheduler.periods': [150000, 150000, 150000, 150000],
        'lr_scheduler.restart_weights': [1, 0.5, 0.5, 0.5],
        'validate.interval': 5000,
        'log_config.interval': 10,
        'log_config.visiual_interval': 5000,
    }),
    'edvr_l_blur_w_tsa': dict(**DEBLUR, **LARGE, **WITH_TSA, **{
        'lr_scheduler.learning_rate': 0.0004,
        'lr_scheduler.restart_weights': [1, 0.5, 0.5, 0.5, 0.5],
        'validate.interval': 10000,
        'log_config.interval': 50,
        'log_config.visiual_interval': 5000,
    }),
}

TUTORIAL_CONFIG = 'edvr_l_blur_wo_tsa'



def paddlegan_settings(name):
    """{dotted key: value} of PaddleGAN's config ``name`` (e.g. 'edvr_m_w_tsa')."""
    return dict(SHARED, **VARIANTS[name])


def flatten(tree, prefix=''):
    """A parsed YAML mapping -> {dotted key: value} in the form used above."""
    if isinstance(tree, dict):
        return {k: v for key, sub in tree.items() for k, v in flatten(sub, f'{prefix}{key}.').items()}
    if isinstance(tree, list) and any(isinstance(x, (dict, list)) for x in tree):
        return {k: v for i, sub in enumerate(tree) for k, v in flatten(sub, f'{prefix}{i}.').items()}
    return {prefix[:-1]: tree}


def unflatten(settings):
    """Inverse of `flatten`: {dotted key: value} -> nested dicts and lists."""
    root = {}
    for key, value in settings.items():
        node, parts = root, key.split('.')
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    items = {k: _lists(v) for k, v in node.items()}
    if items and all(k.isdigit() for k in items):
        return [items[str(i)] for i in range(len(items))]
    return items
