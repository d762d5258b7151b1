"""A stat helper of a local listing (local_listing.StatHelpers), run as a script in a process of its own.

It reads tasks `(folder, names, with_times)` from its standard input and
writes for each, in order, `(sizes, modified, times)` to its standard output,
both marshalled: file_facts.stat_files of the names, and their file_facts.name_times
when asked (else None). It ends at the end of its input. Run as a script with
Python's site skipped, it imports only file_facts (beside it, the first entry
of sys.path) and the standard library, so it starts in milliseconds.
"""
import marshal
import sys

from file_facts import name_times, stat_files


def main() -> None:
    read, write = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            folder, names, with_times = marshal.load(read)
        except EOFError:
            return
        sizes, modified = stat_files(folder, names)
        marshal.dump((sizes, modified, name_times(names) if with_times else None), write)
        write.flush()


if __name__ == "__main__":
    main()
