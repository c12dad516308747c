"""Column helpers shared by the models."""

import time
import uuid

from sqlalchemy import JSON
from sqlalchemy.dialects.postgresql import JSONB

# JSONB on PostgreSQL, JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def now() -> int:
    """Seconds since the epoch: every timestamp in the schema is one of these."""
    return int(time.time())


def new_id() -> str:
    return str(uuid.uuid4())
