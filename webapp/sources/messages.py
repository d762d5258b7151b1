"""Messages between a local listing and its stat helpers: marshalled values, each after its length.

Standard library only, with no import from the rest of the package, like
file_facts: stat_helper.py runs as a script beside it. Whole messages are read
with one `read` and decoded by `marshal.loads`; `marshal.load` on a pipe
would call the file's `read` once per value inside.
"""
import marshal
from typing import BinaryIO

_LENGTH_BYTES = 8


def send(stream: BinaryIO, value) -> None:
    """Write one message and flush it."""
    data = marshal.dumps(value)
    stream.write(len(data).to_bytes(_LENGTH_BYTES, "little"))
    stream.write(data)
    stream.flush()


def receive(stream: BinaryIO):
    """Read one message; EOFError when the stream ends before a whole one."""
    header = stream.read(_LENGTH_BYTES)
    if len(header) < _LENGTH_BYTES:
        raise EOFError("the stream ended")
    length = int.from_bytes(header, "little")
    data = stream.read(length)
    if len(data) < length:
        raise EOFError("the stream ended inside a message")
    return marshal.loads(data)
