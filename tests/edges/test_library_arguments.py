# SPDX-License-Identifier: Apache-2.0
"""Library entry points check their arguments like the command line does: one line naming it."""
import pytest

from edvr.deploy.predictor import Predictor
from edvr.errors import ConfigError


@pytest.mark.parametrize('kwargs, message', [
    (dict(feature_cache_mib='lots'), r"Predictor: feature_cache_mib='lots'; expected a number "
                                     r'of MiB >= 0'),
    (dict(feature_cache_mib=float('inf')), r'Predictor: feature_cache_mib=inf'),
    (dict(num_threads=0), r'Predictor: num_threads=0; expected None or a whole number 1..1024'),
    (dict(tile='big'), r"Predictor: tile='big'; expected None or a whole number >= 1"),
    (dict(ensemble='yes'), r"Predictor: ensemble='yes'; expected True or False"),
    (dict(tile=16, tile_overlap=-1), r'Predictor: tile_overlap=-1; expected a whole number >= 0'),
])
def test_predictor_from_config_names_the_argument(kwargs, message):
    # checked before the config or the weights are even read
    with pytest.raises(ConfigError, match=message):
        Predictor.from_config('no-such-config.yaml', 'no-such-weights.pdparams', **kwargs)


def test_predictor_names_the_argument():
    with pytest.raises(ConfigError, match=r"Predictor: num_threads='4'; expected None or a whole"):
        Predictor('no/such/model', num_threads='4')
