"""The consumer that `flask --app wsgi worker` runs: Huey's, with the job reaper on its own clock.

Huey checks periodic tasks once a minute. The reaper (`reap_stale_jobs`) is
what ends jobs whose worker or queue was lost, so how soon it runs bounds how
long such a job shows a stale status: REAPER_INTERVAL_SECONDS (default 60)
sets it. Other periodic tasks keep Huey's minute. Each consumer sweeps on its
own clock; sweeps take rows with SKIP LOCKED, so N consumers on N machines
never fail a job twice.
"""
import time

from huey.consumer import Consumer, Scheduler

from tasks.jobs import tasks_on

REAPER_TASK_NAME = "reap_stale_jobs"


def make_consumer(queue, workers: int, reaper_interval: float, max_delay: float = 0.5) -> Consumer:
    """A process-worker consumer for `queue` that enqueues the reaper every `reaper_interval` seconds."""
    reaper = tasks_on(queue).reap_stale_jobs

    class ReapingScheduler(Scheduler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self._next_reap = time.monotonic()

        def loop(self, now=None):
            if self.periodic and self._next_reap <= time.monotonic():
                self._next_reap = time.monotonic() + reaper_interval
                try:
                    self.huey.enqueue(reaper.s())
                except Exception:
                    self._logger.exception("Error enqueueing the job reaper.")
            super().loop(now)

        def enqueue_periodic_tasks(self, now):
            for task in self.huey.read_periodic(now):
                if task.name == REAPER_TASK_NAME:
                    continue
                try:
                    self.huey.enqueue(task)
                except Exception:
                    self._logger.exception("Error enqueueing periodic task %s.", task)

    class ReapingConsumer(Consumer):
        scheduler_class = ReapingScheduler

    # A short polling delay keeps the embedded (SQLite) queue responsive;
    # Redis blocks on its own and ignores it.
    return ReapingConsumer(queue, workers=workers, worker_type="process", max_delay=max_delay)
