# SPDX-License-Identifier: Apache-2.0
"""Every command-line flag's type and range, shared by the commands, and their parser.

Each function here is an argparse ``type=``: it turns the text into the value or
raises ``argparse.ArgumentTypeError`` saying what was expected and what was given.
`Parser` reports such a mistake as one ``error: argument --seed: ...`` line and exit
code 2 (``-h`` still prints the full usage). All of it happens while the command
line is parsed, before any network is built or file written.
"""
import argparse
import os

from edvr.errors import ConfigError

MAX_SEED = 2 ** 32 - 1
MAX_SIDE = 65536          # largest frame side an input shape or crop may name
IMAGE_OUTPUTS = ('.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp')
PRECISIONS = ('fp32', 'bf16')   # edvr.ops.bf16.PRECISIONS, repeated so parsing imports no Paddle


class UsageError(ConfigError):
    """A flag is missing, unknown or has a wrong value."""


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose mistakes raise `UsageError` (one ``error: ...`` line, exit 2)."""

    def error(self, message):
        raise UsageError(message)


def _whole(text):
    try:
        return int(str(text).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f'expected a whole number, got {text!r}') from None


def int_range(low, high=None, what='a whole number'):
    """A type accepting whole numbers ``low <= n <= high`` (no upper bound when None)."""
    def parse(text):
        value = _whole(text)
        if value < low or (high is not None and value > high):
            bounds = f'from {low} to {high}' if high is not None else f'>= {low}'
            raise argparse.ArgumentTypeError(f'expected {what} {bounds}, got {text!r}')
        return value
    parse.__name__ = 'whole number'
    return parse


positive_int = int_range(1, what='a positive whole number')
non_negative_int = int_range(0)
seed = int_range(0, MAX_SEED, 'a seed')
thread_count = int_range(1, 1024, 'a thread count')
tile_size = int_range(1, MAX_SIDE, 'a tile size in pixels')


def precision(text):
    """An inference precision: ``fp32`` or ``bf16`` (any case)."""
    value = str(text).strip().lower()
    if value not in PRECISIONS:
        raise argparse.ArgumentTypeError(f'expected {" or ".join(PRECISIONS)}, got {text!r}')
    return value


def crop(text):
    """``TOP,LEFT,HEIGHT,WIDTH``: four whole numbers, top/left >= 0, height/width >= 1."""
    parts = str(text).split(',')
    try:
        values = tuple(int(p.strip()) for p in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or min(values[:2]) < 0 or min(values[2:]) < 1 \
            or max(values) > MAX_SIDE:
        raise argparse.ArgumentTypeError(f'expected TOP,LEFT,HEIGHT,WIDTH (four whole numbers, '
                                         f'height and width >= 1), got {text!r}')
    return values


def frame_size(text):
    """``HxW`` (e.g. 720x1280): two positive whole numbers."""
    try:
        h, w = (int(v) for v in str(text).lower().split('x'))
    except ValueError:
        h = w = 0
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise argparse.ArgumentTypeError(f'expected HxW such as 720x1280, got {text!r}')
    return h, w


def inputs_size(text):
    """Example input shapes ``b,t,c,h,w`` (``;`` between inputs): positive, 3 channels.

    Returns the text itself (the exporter parses it); the checks happen here.
    """
    shapes = []
    for part in str(text).split(';'):
        if part.strip():
            try:
                shapes.append([int(v) for v in part.split(',')])
            except ValueError:
                shapes = None
                break
    if not shapes or any(len(s) != 5 or min(s) < 1 or max(s[3:]) > MAX_SIDE for s in shapes):
        raise argparse.ArgumentTypeError(f'expected positive whole numbers b,t,c,h,w such as '
                                         f'"1,5,3,180,320" (";" between inputs), got {text!r}')
    if any(s[2] != 3 for s in shapes):
        raise argparse.ArgumentTypeError(f'expected 3 channels (b,t,3,h,w), got {text!r}')
    return text


def output_file(extensions, what):
    """A type for an output file whose extension is one of ``extensions`` (lower case)."""
    def parse(text):
        text = str(text)
        if not text.strip() or text.endswith(('/', os.sep)):
            raise argparse.ArgumentTypeError(f'expected a {what} file name, got {text!r}')
        if os.path.splitext(text)[1].lower() not in extensions:
            raise argparse.ArgumentTypeError(f'expected a {what} file ending in '
                                             f'{", ".join(extensions)}, got {text!r}')
        return text
    parse.__name__ = 'file name'
    return parse


image_output = output_file(IMAGE_OUTPUTS, 'image')
weights_output = output_file(('.pdparams',), 'weights')


def path_text(text):
    """A non-empty path without NUL bytes."""
    text = str(text)
    if not text.strip() or '\0' in text:
        raise argparse.ArgumentTypeError(f'expected a path, got {text!r}')
    return text


def input_folder(text):
    """A folder to read: a path that, if it exists, is a folder (a missing one is the
    command's own message)."""
    text = path_text(text)
    if os.path.exists(text) and not os.path.isdir(text):
        raise argparse.ArgumentTypeError(f'expected a folder, got the file {text!r}')
    return text


def video_output(text):
    """An output video whose container the encoder writes."""
    from edvr.deploy.encoder import CONTAINERS
    return output_file(CONTAINERS, 'video')(text)

