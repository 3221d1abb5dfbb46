"""A worker process for the crash test: claims one job, reports a step, then hangs.

    python -m tests.integration.worker_process DSN STEP
prints ``CLAIMED <job id>`` once the step has been recorded, and waits to be killed.
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

from cardqueue import Queue
from sscard_core.messages import Capability, JobStep


async def main(dsn: str, step: JobStep) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    assert pool is not None
    queue = Queue(pool)
    (job,) = await queue.claim("doomed", "outlet-1", [Capability.PRINT_ENCODE], lease_seconds=1.0)
    if step.physical:
        await queue.heartbeat("doomed", [job.id], step, lease_seconds=1.0)
    print(f"CLAIMED {job.id}", flush=True)
    await asyncio.Event().wait()  # hang until SIGKILL


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], JobStep(sys.argv[2])))
