"""The durable card-job queue, on PostgreSQL.

Every card request becomes a job here; instant-issuance printers, chip
encoders and production lines take jobs from it. The queue never loses a job,
never hands one job to two workers at once, and sends a job whose worker
vanished mid-card to ``in_doubt`` rather than print the card twice.
"""

from cardqueue.codec import PayloadCodec, PlainCodec
from cardqueue.models import (
    EnqueueResult,
    Job,
    NewJob,
    QueueStats,
    SiteDepth,
)
from cardqueue.queue import Queue

__all__ = [
    "EnqueueResult",
    "Job",
    "NewJob",
    "PayloadCodec",
    "PlainCodec",
    "Queue",
    "QueueStats",
    "SiteDepth",
]
