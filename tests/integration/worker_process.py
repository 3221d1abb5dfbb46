"""A worker process for the crash test: claims one job, reports a step, then hangs.

    python -m tests.integration.worker_process DSN STEP
prints ``CLAIMED <job id>`` once the step has been recorded, and waits to be killed.
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from cardqueue import Job
from cardqueue.worker import Lease, Worker, WorkerConfig
from sscard_core.messages import Capability, JobStep


async def main(dsn: str, step: JobStep) -> None:
    async def handler(job: Job, lease: Lease) -> dict[str, Any] | None:
        if step.physical:
            await lease.step(step)
        print(f"CLAIMED {job.id}", flush=True)
        await asyncio.Event().wait()  # hang until SIGKILL
        return None

    config = WorkerConfig("doomed", "outlet-1", [Capability.PRINT_ENCODE], lease_seconds=1.0)
    await Worker(dsn, config, handler).run(asyncio.Event())


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], JobStep(sys.argv[2])))
