"""Ending a command's process without the interpreter's teardown.

After a command returns, CPython tears down every module it imported; with torch (and the
``torch._dynamo`` every optimizer imports) that alone takes about a second on a 2-core machine,
which a user waits for at the end of each run. Nothing of trainforge's needs it: its files are
written and closed before the command returns. So the console entry points wait for
non-daemon threads and run the ``atexit`` handlers (logging, multiprocessing's workers,
trackers), as an ordinary exit would, flush stdout and stderr, and end the process there.
``main()`` itself still returns, for callers in the same process.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from typing import NoReturn


def exit_now(code: int) -> NoReturn:
    """Exit with ``code`` as a normal exit would, less the module teardown."""
    for thread in threading.enumerate():
        if thread is not threading.main_thread() and not thread.daemon:
            thread.join()
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # a closed pipe: nothing more to say
            stream.flush()
    os._exit(code)
