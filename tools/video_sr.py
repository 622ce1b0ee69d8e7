# SPDX-License-Identifier: Apache-2.0
"""Super-resolve a video: python tools/video_sr.py INPUT.mp4 -o OUTPUT.mp4 ...

The command `edvr-video` of the installed package, run from a checkout (edvr/cli/video.py).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from edvr.cli.video import main  # noqa: E402

if __name__ == '__main__':
    sys.exit(main())
