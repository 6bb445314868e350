#!/usr/bin/env python3
"""The one entry point: the Discord bot, or the question console and its commands.

Run ``python run_bot.py --help`` for the commands.
"""

from bot.cli import main

if __name__ == "__main__":
    main()
