# SPDX-License-Identifier: Apache-2.0
"""Deployment: exported inference models, any-size padding and the `Predictor`."""
from edvr.deploy.export import export_model, find_model_files, save_inference_model
from edvr.deploy.predictor import Predictor
from edvr.utils.padding import CropBox, pad_to_multiple

__all__ = ['export_model', 'find_model_files', 'save_inference_model', 'CropBox',
           'pad_to_multiple', 'Predictor']
