"""What the `hubsync` command modules share: exit statuses, the one-line usage error, and
the argparse types for counts."""

from __future__ import annotations

import argparse

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3


class CommandError(Exception):
    """A one-line reason to stop with `EXIT_USAGE`."""


# The names show in argparse's message for a non-number ("invalid _positive value: 'x'").
def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, got {value}")
    return value
