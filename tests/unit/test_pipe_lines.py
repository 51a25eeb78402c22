"""A local pipeline's stdout, read line by line by the job's own thread (`runners.local`)."""

from __future__ import annotations

import os
import threading
import time

import pytest

from gms_lab.tasks.runners.local import _Lines


def test_lines_come_whole_however_the_pipe_cuts_them() -> None:
    read, write = os.pipe()
    lines = _Lines(read)
    try:
        assert lines.next(0.05) is None  # nothing yet: the wait ends at its timeout
        os.write(write, b'{"event": "progr')
        assert lines.next(0.05) is None  # half a line is not a line
        os.write(write, b'ess"}\r\n{"event": "result"}\n{"eve')
        assert lines.next(1) == '{"event": "progress"}'  # the CR of a CRLF goes too
        assert lines.next(1) == '{"event": "result"}'  # from the same read, no wait
        assert lines.next(0.05) is None
        # a line arriving while the reader waits wakes it at once, not at its timeout
        threading.Timer(0.1, os.write, args=(write, b'nt": 3}\n')).start()
        started = time.monotonic()
        assert lines.next(30) == '{"event": 3}'
        assert time.monotonic() - started < 10
        # more than a pipe holds: written meanwhile, as a program would
        tail = b"caf\xe9 \xff\n" + b"x" * 200_000 + b"\nlast words"
        writer = threading.Thread(target=os.write, args=(write, tail))
        writer.start()
        assert lines.next(1) == "caf\ufffd \ufffd"  # not UTF-8: replaced, never an error
        assert lines.next(1) == "x" * 200_000  # longer than one read
        writer.join(10)
    finally:
        os.close(write)
    # the program exited: its last line counts even without a newline, then the end
    assert lines.next(1) == "last words"
    for _ in range(2):
        with pytest.raises(EOFError):
            lines.next(1)
    os.close(read)
