"""Whether LiteRT can use a model's constant tensors where they lie, without copying them.

LiteRT memory-maps a model and reads each constant tensor in place when its buffer's address is a
multiple of the element size; otherwise it copies the tensor to the heap at start and warns
"Read-only tensor #3 (…) has an unaligned buffer (…, required alignment 4) … Re-export the model
to align buffers". The address is the mapping's page-aligned base plus the model's offset in its
file (a member of a .task zip starts wherever the zip put it) plus the buffer's offset in the
flatbuffer: the export and the bundling both decide it, and `unaligned_tensors` checks both.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

# bytes per element of each TensorType the schema knows (the alignment LiteRT asks for)
_ELEMENT_SIZE = {
    "FLOAT32": 4,
    "FLOAT16": 2,
    "INT32": 4,
    "UINT8": 1,
    "INT64": 8,
    "STRING": 1,
    "BOOL": 1,
    "INT16": 2,
    "COMPLEX64": 8,
    "INT8": 1,
    "FLOAT64": 8,
    "COMPLEX128": 16,
    "UINT64": 8,
    "UINT32": 4,
    "UINT16": 2,
    "INT4": 1,
    "BFLOAT16": 2,
}


def unaligned_tensors(model: bytes, offset: int = 0) -> list[str]:
    """'#index (name): byte N, needs a multiple of M' for each constant tensor whose buffer would
    be misaligned with the model `offset` bytes into a memory-mapped file; [] when all are fine."""
    from ai_edge_litert import schema_py_generated as schema

    types = {v: k for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
    root = schema.Model.GetRootAs(model, 0)
    problems = []
    for s in range(root.SubgraphsLength()):
        graph = root.Subgraphs(s)
        for t in range(graph.TensorsLength()):
            tensor = graph.Tensors(t)
            buffer = root.Buffers(tensor.Buffer())
            if buffer is None or buffer.DataLength() == 0:
                continue  # not a constant (or its data lies outside the flatbuffer)
            need = _ELEMENT_SIZE.get(types.get(tensor.Type(), ""), 1)
            start = offset + buffer._tab.Vector(buffer._tab.Offset(4))  # first data byte
            if start % need:
                name = (tensor.Name() or b"").decode("utf-8", "replace")
                where = f"#{t} ({name})" if s == 0 else f"subgraph {s} #{t} ({name})"
                problems.append(f"{where}: byte {start}, needs a multiple of {need}")
    return problems


def stored_members(bundle: Path) -> dict[str, tuple[int, bytes]]:
    """name -> (offset of its data in the file, its bytes) for the stored members of a zip such
    as a MediaPipe .task bundle (MediaPipe maps the file and reads the members in place)."""
    members = {}
    with zipfile.ZipFile(bundle) as archive, open(bundle, "rb") as raw:
        for info in archive.infolist():
            raw.seek(info.header_offset)
            header = raw.read(30)
            name_len, extra_len = struct.unpack("<HH", header[26:30])
            members[info.filename] = (
                info.header_offset + 30 + name_len + extra_len,
                archive.read(info),
            )
    return members
