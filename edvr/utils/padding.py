# SPDX-License-Identifier: Apache-2.0
"""The one rule for padding a frame side up to a multiple, shared by every inference path."""


def padding_for(size, multiple):
    """(before, after) padding bringing ``size`` to the next multiple of ``multiple``.

    The padding is split between both sides so neither border sees more
    synthetic content than needed.
    """
    total = -size % multiple
    return total // 2, total - total // 2
