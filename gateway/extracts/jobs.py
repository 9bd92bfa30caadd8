"""Background builds: one worker thread per gateway process, fed on approval and on start-up.

Several processes may share one database: each build starts with a conditional UPDATE
(approved -> building), so exactly one process builds each extract. Approved extracts left by a
process that stopped are picked up by the next one to start.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from gateway.extracts.service import ExtractService


class ExtractJobs:
    def __init__(self, service: ExtractService, workers: int = 1) -> None:
        self.service = service
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="extract-job")

    def submit(self, extract_id: str) -> Future:
        return self._pool.submit(self.service.run, extract_id)

    def resume(self) -> list[Future]:
        """Expire what is due and queue every approved extract that nobody is building."""
        self.service.expire_due()
        return [self.submit(e["extract_id"]) for e in self.service.store.listing(status="approved")]

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)
