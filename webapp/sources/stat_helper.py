"""A stat helper of a local listing (local_listing.StatHelpers), run as a script in a process of its own.

It reads tasks `(folder, names, with_times)` from its standard input and
writes for each, in order, `(sizes, modified, times)` to its standard output,
as messages (messages.py): file_facts.stat_files of the names and, when asked (else
None), their capture times as file_facts.time_text, read from their names or
else from the EXIF in their first block (exif.py). A time neither gives is
file_facts.NO_TIME; one the head cannot settle (another format, a file cut
short, an error) is None, and the listing's process reads that file itself.
Only files with some content are opened, and without waiting: never a pipe. It ends at
the end of its input. Run as a script with Python's site skipped, it imports
only its neighbours file_facts, exif and messages (this folder is the first entry of
sys.path) and the standard library, so it starts in milliseconds.
"""
import os
import sys

if __package__:  # imported as part of the package (by a tool or a test), not run as the helper
    from .exif import HEAD_BYTES, NOT_FOUND, exif_time_from_head
    from .file_facts import NO_TIME, name_times, stat_files, time_text
    from .messages import receive, send
else:
    from exif import HEAD_BYTES, NOT_FOUND, exif_time_from_head
    from file_facts import NO_TIME, name_times, stat_files, time_text
    from messages import receive, send


def head_time(path: str) -> str | None:
    """The capture time in a file's EXIF head: time_text, NO_TIME, or None when the head does not settle it."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            head = os.read(descriptor, HEAD_BYTES)
        finally:
            os.close(descriptor)
    except OSError:
        return None
    found = exif_time_from_head(head)
    if found is NOT_FOUND:
        return None
    return NO_TIME if found is None else time_text(found)


def capture_times(folder: str, names: list[str], sizes: list[int]) -> list[str | None]:
    times = name_times(names)
    for index, found in enumerate(times):
        if found is None and sizes[index] > 0:
            times[index] = head_time(folder + names[index])
    return times


def main() -> None:
    read, write = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            folder, names, with_times = receive(read)
        except EOFError:
            return
        sizes, modified = stat_files(folder, names)
        times = capture_times(folder, names, sizes) if with_times else None
        send(write, (sizes, modified, times))


if __name__ == "__main__":
    main()
