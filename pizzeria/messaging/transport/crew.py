"""Several workers in one process, each on a thread and connections of its own: an endpoint whose
`concurrency` is N is consumed by N of them at once. For handlers that wait (an oven, a remote
service) this is N batches in hand instead of one; a process per core is still the way to use
more CPU."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from ..contracts.endpoint import Endpoint
from .consumer import Worker


class Crew:
    """The workers of one process, run and stopped together: the first on the calling thread,
    the others each on a thread of its own."""

    def __init__(self, workers: Sequence[Worker]):
        self.workers = list(workers)

    @property
    def should_stop(self) -> bool:
        """Whether the workers are told to stop."""
        return self.workers[0].should_stop

    @should_stop.setter
    def should_stop(self, value: bool) -> None:
        for worker in self.workers:
            worker.should_stop = value

    def run(self) -> None:
        """Run every worker until they are told to stop; a worker whose loop ends stops the others."""
        threads = [threading.Thread(target=self._run, args=(worker,), name=f"worker-{number}", daemon=True)
                   for number, worker in enumerate(self.workers[1:], 1)]
        for thread in threads:
            thread.start()
        self._run(self.workers[0])
        for thread in threads:
            thread.join()

    def close(self) -> None:
        """Close every worker."""
        for worker in self.workers:
            worker.close()

    def _run(self, worker: Worker) -> None:
        try:
            worker.run()  # type: ignore[no-untyped-call]  # ConsumerMixin.run, untyped in kombu
        finally:
            self.should_stop = True


def shares(endpoints: Sequence[Endpoint]) -> list[list[Endpoint]]:
    """The endpoints each worker of a crew consumes: the first all of them, the Nth those whose
    concurrency is N or more."""
    most = max((endpoint.concurrency for endpoint in endpoints), default=1)
    return [[endpoint for endpoint in endpoints if endpoint.concurrency > number] for number in range(most)]
