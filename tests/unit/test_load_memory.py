"""The load test's memory figures: RSS counts shared pages in every process, PSS shares them out."""

from __future__ import annotations

import os
import subprocess
import sys

from issuance.tools.loadtest import MemorySampler


def test_a_process_tree_s_pss_is_at_most_its_rss() -> None:
    # two interpreters share the pages of their executable and libraries: PSS splits them
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        sampler = MemorySampler(os.getpid())
        sampler.sample()
        sampler.sample()
        assert len(sampler.samples) == len(sampler.pss) == 2
        assert 0 < sampler.peak_pss() < sampler.peak()
    finally:
        child.kill()
        child.wait()
