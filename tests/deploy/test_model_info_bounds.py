# SPDX-License-Identifier: Apache-2.0
"""The bounds of an exported model's ``.edvr.yml`` facts, each side of every boundary."""
import re

import pytest

from edvr.deploy.model_info import read_model_info
from edvr.errors import WeightsError


def write_info(tmp_path, text):
    path = tmp_path / 'm.edvr.yml'
    path.write_text(text)
    return str(path)


@pytest.mark.parametrize('pair', ['[1, 1]', '[0.5, 0.5]', '[0, 0]'])
def test_an_empty_value_range_is_refused_on_one_line(tmp_path, pair):
    path = write_info(tmp_path, f'min_max: {pair}\n')
    with pytest.raises(WeightsError) as refused:
        read_model_info(path)
    got = str(refused.value)
    assert re.fullmatch(re.escape(f'{path}: min_max: expected two numbers low < high, got ') +
                        r'\[[0-9.]+, [0-9.]+\]', got), got


@pytest.mark.parametrize('pair, expected', [('[0, 1]', [0, 1]), ('[-1.0, 1.0]', [-1.0, 1.0]),
                                            ('[0.0, 1.0e-6]', [0.0, 1e-6])])
def test_a_value_range_with_low_below_high_is_kept(tmp_path, pair, expected):
    assert read_model_info(write_info(tmp_path, f'min_max: {pair}\n'))['min_max'] == expected


@pytest.mark.parametrize('key', ['num_frames', 'scale', 'size_multiple'])
def test_whole_number_facts_accept_1_and_1024_and_refuse_0_and_1025(tmp_path, key):
    for kept in (1, 1024):
        assert read_model_info(write_info(tmp_path, f'{key}: {kept}\n')) == {key: kept}
    for refused in (0, 1025):
        path = write_info(tmp_path, f'{key}: {refused}\n')
        with pytest.raises(WeightsError) as error:
            read_model_info(path)
        assert str(error.value) == (f'{path}: {key}: expected a whole number from 1 to 1024, '
                                    f'got {refused}')
