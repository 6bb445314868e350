#!/usr/bin/env python3
"""The one entry point: the Discord bot, or the question console and its commands.

Run ``python run_bot.py --help`` for the commands.
"""

import os

# One BLAS thread per Python thread: questions are answered in worker threads and index builds
# embed passages two batches at a time, so a multi-threaded BLAS would only oversubscribe the cores.
for _variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_variable, "1")

from bot.cli import main  # noqa: E402

if __name__ == "__main__":
    main()
