# SPDX-License-Identifier: Apache-2.0
"""Networks, layers and losses; importing this package registers them."""
from edvr.models import (blocks, edvr_model, edvr_net, losses, pcd_align,  # noqa: F401
                         predeblur, tsa_fusion)
