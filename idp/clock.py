"""The one clock: every timestamp in the schema and in tokens is whole seconds."""

import time


def now() -> int:
    """Seconds since the epoch."""
    return int(time.time())
