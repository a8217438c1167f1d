"""Read the records of an offline W&B run file (`<run folder>/wandb/offline-run-*/run-<id>.wandb`).

wandb ≥ 0.19 writes this file from its Go core and ships no Python reader. The framing is LevelDB's
log format: a 7-byte file header (`:W&B`, magic 0xBEE1, version 0), then 32 KiB blocks of chunks, each
with a 7-byte header (CRC-32 (zlib's) of type + payload, little-endian payload length, type: 1 full, 2 first,
3 middle, 4 last); a block's tail shorter than a header is zero padding. Each whole record is a
`wandb.proto.wandb_internal_pb2.Record` protobuf message.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

HEADER = struct.Struct("<4sHB")
CHUNK = struct.Struct("<IHB")
BLOCK = 32 * 1024
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_payloads(path: str | Path, verify: bool = True) -> Iterator[bytes]:
    """Every record's serialized bytes, in order (chunks reassembled, checksums verified)."""
    data = Path(path).read_bytes()
    ident, magic, version = HEADER.unpack_from(data, 0)
    if ident != b":W&B" or magic != 0xBEE1 or version != 0:
        raise ValueError(f"{path}: not a W&B run file (header {data[:7]!r})")
    pos, pending = HEADER.size, b""
    while pos + CHUNK.size <= len(data):
        left = BLOCK - pos % BLOCK
        if left < CHUNK.size:
            pos += left
            continue
        crc, length, kind = CHUNK.unpack_from(data, pos)
        if kind == 0 and length == 0:  # zero padding up to the block's end (or the unfinished tail)
            pos += left
            continue
        payload = data[pos + CHUNK.size : pos + CHUNK.size + length]
        if len(payload) < length:
            break  # a record still being written
        if verify and zlib.crc32(bytes([kind]) + payload) != crc:
            raise ValueError(f"{path}: bad checksum at byte {pos}")
        pos += CHUNK.size + length
        if kind == FULL:
            yield payload
        elif kind == FIRST:
            pending = payload
        elif kind == MIDDLE:
            pending += payload
        elif kind == LAST:
            yield pending + payload
            pending = b""
        else:
            raise ValueError(f"{path}: unknown chunk type {kind} at byte {pos}")


def read_records(path: str | Path, verify: bool = True):
    """The `Record` protobuf messages of a run file."""
    from wandb.proto import wandb_internal_pb2

    for payload in read_payloads(path, verify):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(payload)
        yield record


def _key(item) -> str:
    return item.key or "/".join(item.nested_key)


def summarize(path: str | Path) -> dict:
    """What a test wants to know: history rows, config, files and the run's id/group/name."""
    out: dict = {"history": [], "config": {}, "files": [], "run": {}, "types": {}}
    for record in read_records(path):
        kind = record.WhichOneof("record_type")
        out["types"][kind] = out["types"].get(kind, 0) + 1
        if kind == "history":
            out["history"].append({_key(i): json.loads(i.value_json) for i in record.history.item})
        elif kind == "config":
            out["config"].update({_key(i): json.loads(i.value_json) for i in record.config.update})
        elif kind == "files":
            out["files"] += [f.path for f in record.files.files]
        elif kind == "run":
            run = record.run
            out["config"].update({_key(i): json.loads(i.value_json) for i in run.config.update})
            out["run"] = {
                "id": run.run_id,
                "group": run.run_group,
                "name": run.display_name,
                "project": run.project,
            }
    return out
