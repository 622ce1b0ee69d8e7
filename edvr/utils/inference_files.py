# SPDX-License-Identifier: Apache-2.0
"""The reader of an exported model's files, run before ``paddle.inference`` opens them.

Paddle reads a damaged program or weights file in C++ and fails with a multi-line
report, or allocates what a damaged header declares. `check_model_files` reads both
first and turns every problem into one WeightsError naming the file:

* ``.pdiparams``: the stream of tensors Paddle writes (per tensor: a version, LoD
  levels, a ``TensorDesc`` protobuf of data type and dims, the raw data); every
  header is checked against the file's size before anything is allocated, and the
  stream must end exactly at the end of the file.
* ``.json`` (Paddle 3 PIR programs): valid JSON whose parameters have, as a multiset,
  the shapes of the arrays in the ``.pdiparams`` (weights of another export are refused);
* ``.pdmodel`` (Paddle 2.6 protobuf programs): every field inside the file, and its
  persistable tensors (the parameters) of the shapes of the ``.pdiparams`` arrays.
"""
import json
import os
import struct

from edvr.errors import WeightsError

# Paddle's VarType data types -> bytes per element (framework.proto)
ITEM_BYTES = {0: 1, 1: 2, 2: 4, 3: 8, 4: 2, 5: 4, 6: 8, 19: 8, 20: 1, 21: 1, 22: 2, 23: 8,
              24: 16, 32: 1, 33: 1}
MAX_DESC_BYTES = 1 << 16   # a TensorDesc is a type and a few dims
MAX_LOD_LEVELS = 16
MAX_PROGRAM_BYTES = 1 << 30


def _varint(data, pos, end, where):
    value, shift = 0, 0
    while True:
        if pos >= end or shift > 63:
            raise WeightsError(f'{where}: damaged tensor header (a number runs past its end)')
        byte = data[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, pos


def _signed(value):
    return value - (1 << 64) if value >= 1 << 63 else value


def _fields(data, pos, end, where):
    """(field number, wire type, value) of each field of the protobuf message in
    ``data[pos:end]``: an int for a varint, (start, stop) for the other wire types."""
    while pos < end:
        key, pos = _varint(data, pos, end, where)
        field, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos, end, where)
        elif wire in (1, 2, 5):
            size = 8 if wire == 1 else 4 if wire == 5 else None
            if size is None:
                size, pos = _varint(data, pos, end, where)
            value, pos = (pos, pos + size), pos + size
        else:
            raise WeightsError(f'{where}: damaged (protobuf field of type {wire})')
        if pos > end:
            raise WeightsError(f'{where}: truncated (a field runs past the end); export the '
                               f'model again')
        yield field, wire, value


def _message(data, value, field, where):
    """The sub-message spans of ``field`` among the fields of the message at ``value``."""
    return [v for f, wire, v in _fields(data, value[0], value[1], where)
            if f == field and wire == 2]


def _text(data, span):
    return bytes(data[span[0]:span[1]]).decode('utf-8', 'replace')


def _pdmodel_vars(path, data):
    """[(name, persistable, dims or None)] of block 0's variables of a ``.pdmodel``, and the
    names the ``feed`` ops write (the inputs)."""
    variables, inputs = [], []
    for block in _message(data, (0, len(data)), 1, path)[:1]:
        for var in _message(data, block, 3, path):
            fields = {f: v for f, _, v in _fields(data, var[0], var[1], path)}
            dims = None
            if 2 in fields:
                kind = {f: v for f, _, v in _fields(data, fields[2][0], fields[2][1], path)}
                if kind.get(1) == 7 and 3 in kind:  # a dense (LoD) tensor
                    for tensor in _message(data, kind[3], 1, path):
                        dims = _tensor_desc(data, tensor[0], tensor[1], path, True)[1]
            variables.append((_text(data, fields[1]) if 1 in fields else '', bool(fields.get(3)),
                              dims))
        for op in _message(data, block, 4, path):
            fields = list(_fields(data, op[0], op[1], path))
            if any(f == 3 and _text(data, v) == 'feed' for f, w, v in fields if w == 2):
                for out in (v for f, w, v in fields if f == 2 and w == 2):
                    inputs += [_text(data, a) for a in _message(data, out, 2, path)]
    return variables, inputs


def _pdmodel_param_shapes(path, data):
    """Dims of the persistable dense tensors of a Paddle 2.x ``.pdmodel`` (ProgramDesc:
    blocks 1 > vars 3 > {name 1, type 2 > {type 1, lod_tensor 3 > tensor 1}, persistable 3})."""
    return [dims for _, persistable, dims in _pdmodel_vars(path, data)[0]
            if persistable and dims is not None]


def _tensor_desc(data, pos, end, where, dynamic=False):
    """(data type, dims) of the TensorDesc protobuf in ``data[pos:end]`` (``dynamic``: dims
    below 0 allowed, a program's variable of open size)."""
    dtype, dims = None, []
    while pos < end:
        key, pos = _varint(data, pos, end, where)
        field, wire = key >> 3, key & 7
        if wire == 0:
            number, pos = _varint(data, pos, end, where)
            if field == 1:
                dtype = number
            elif field == 2:
                dims.append(_signed(number))
        elif wire == 2:  # packed dims, or a field this reader skips
            size, pos = _varint(data, pos, end, where)
            stop = pos + size
            if stop > end:
                raise WeightsError(f'{where}: damaged tensor header (a field runs past its end)')
            while field == 2 and pos < stop:
                number, pos = _varint(data, pos, stop, where)
                dims.append(_signed(number))
            pos = stop
        else:
            raise WeightsError(f'{where}: damaged tensor header (unexpected field type {wire})')
    if dtype not in ITEM_BYTES or (not dynamic and any(d < 0 for d in dims)):
        raise WeightsError(f'{where}: damaged tensor header (data type {dtype}, dims {dims})')
    return dtype, dims


def read_param_shapes(path):
    """[(data type, dims)] of the tensors in a ``.pdiparams`` file, checked against its size.

    Only the headers are read (the data is skipped).

    Raises:
        WeightsError: the file is empty, unreadable, or not a complete tensor stream.
    """
    try:
        with open(path, 'rb') as f:
            return _tensor_headers(f, os.fstat(f.fileno()).st_size, path)
    except OSError as exc:
        raise WeightsError(f'{path}: cannot read ({exc.strerror or exc})') from None


def _tensor_headers(f, end, path):
    if not end:
        raise WeightsError(f'{path}: empty file, expected the weights of an exported model')
    shapes = []

    def truncated():
        return WeightsError(f'{path}: truncated (tensor {len(shapes)} ends past the file\'s '
                            f'{end:,} bytes); export the model again')

    def take(fmt):
        size = struct.calcsize(fmt)
        data = f.read(size)
        if len(data) < size:
            raise truncated()
        return struct.unpack(fmt, data)[0]

    def skip(size):
        if f.tell() + size > end:
            raise truncated()
        f.seek(size, os.SEEK_CUR)

    while f.tell() < end:
        if take('<I') != 0:
            raise WeightsError(f'{path}: not the weights of an exported Paddle model (tensor '
                               f'{len(shapes)} has no valid header)')
        levels = take('<Q')
        if levels > MAX_LOD_LEVELS:
            raise WeightsError(f'{path}: damaged tensor header ({levels} LoD levels)')
        for _ in range(levels):
            skip(take('<Q'))
        if take('<I') != 0:
            raise WeightsError(f'{path}: damaged tensor header (tensor {len(shapes)})')
        size = take('<i')
        if not 0 < size <= MAX_DESC_BYTES:
            raise WeightsError(f'{path}: damaged tensor header (tensor {len(shapes)})')
        desc = f.read(size)
        if len(desc) < size:
            raise truncated()
        dtype, dims = _tensor_desc(desc, 0, size, path)
        count = 1
        for d in dims:
            count *= d
        skip(count * ITEM_BYTES[dtype])
        shapes.append((dtype, dims))
    return shapes


def program_param_shapes(path):
    """The dims of every parameter a program declares: a PIR ``.json`` program (Paddle 3)
    or a protobuf ``.pdmodel`` (Paddle 2.x).

    Raises:
        WeightsError: a file that is not a readable program of its kind.
    """
    if os.path.getsize(path) > MAX_PROGRAM_BYTES:
        raise WeightsError(f'{path}: larger than {MAX_PROGRAM_BYTES >> 30} GiB, not a program')
    if not str(path).endswith('.json'):
        with open(path, 'rb') as f:
            return _pdmodel_param_shapes(path, f.read())
    try:
        with open(path, 'rb') as f:
            program = json.loads(f.read().decode('utf-8'))
    except (OSError, ValueError, RecursionError) as exc:
        detail = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise WeightsError(f'{path}: not a readable exported program ({detail}); export the '
                           f'model again') from None
    shapes, stack = [], [program]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get('#') == 'p':  # a parameter: its type is {"TT": {"D": [dtype, dims, ...]}}
                found = ((node.get('O') or {}).get('TT') or {}).get('D')
                if isinstance(found, list) and len(found) > 1 and isinstance(found[1], list):
                    shapes.append(list(found[1]))
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    if not isinstance(program, dict) or 'program' not in program:
        raise WeightsError(f'{path}: not an exported Paddle program (no "program" entry)')
    return shapes


def program_input_shape(program):
    """The declared shape of the first input of a program ([-1, 5, 3, -1, -1]: -1 for a
    dynamic axis), or None (none declared, or the program cannot be read)."""
    if not str(program).endswith('.json'):
        try:
            with open(program, 'rb') as f:
                variables, inputs = _pdmodel_vars(program, f.read())
        except (OSError, WeightsError):
            return None
        dims = [d for name, _, d in variables if inputs and name == inputs[0]]
        return list(dims[0]) if dims and dims[0] is not None else None
    try:
        with open(program, 'rb') as f:
            ops = json.loads(f.read().decode('utf-8'))['program']['regions'][0]['blocks'][0]['ops']
        data = next(op for op in ops if str(op.get('#', '')).endswith('.data'))
        shape = data['O'][0]['TT']['D'][1]
    except (OSError, ValueError, KeyError, IndexError, TypeError, StopIteration):
        return None
    return [int(d) for d in shape] if isinstance(shape, list) else None


def check_model_files(program, params):
    """Read an exported model's ``program`` and ``params`` files; one WeightsError if they
    are damaged or do not belong together (see the module docstring)."""
    for path in (program, params):
        if not os.path.isfile(path):
            raise WeightsError(f'{path}: exported model file not found')
    if os.path.getsize(program) == 0:
        raise WeightsError(f'{program}: empty file, expected an exported program')
    declared = program_param_shapes(program)
    stored = [dims for _, dims in read_param_shapes(params)]
    if sorted(map(tuple, declared)) != sorted(map(tuple, stored)):
        raise WeightsError(f'{params}: {len(stored)} arrays that do not fit the program '
                           f'{program} ({len(declared)} parameters); the two files come from '
                           f'different exports')
