"""Run rq workers on wiredesk's queue, in this process or in N supervised child processes.

Each worker reconciles URL states in rq's maintenance (every `reconcile_interval`), starts itself again when
it stops because Redis went away, and a parent of several starts a new child in place of one that was killed.
"""

from __future__ import annotations

import ctypes
import gc
import logging
import math
import multiprocessing
import os
import signal
import sys
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker, Worker
from rq.exceptions import StopRequested
from rq.job_lifecycle import call_exception_handlers
from rq.utils import now as now_utc
from rq.worker import WorkerStatus

from config import Settings
from config.logs import rq_log_level
from workers.reconcile import reconcile, reconcile_interval
from workers.runtime import get_runtime, init_runtime

LOGGER = logging.getLogger(__name__)

RESTART_DELAY = 1.0  # seconds before a worker that lost Redis starts again
SUPERVISE_TICK = 1.0  # seconds between two looks of the parent at its worker processes
HEARTBEAT_SLACK = 1.0  # seconds of a worker's TTL a skipped heartbeat may leave unrenewed
SUSPENSION_CHECK = 1.0  # seconds between two looks for `rq suspend` while jobs keep coming
PR_SET_PDEATHSIG = 1  # linux/prctl.h

_scheduler_parent: int | None = None  # the worker's pid while it forks rq's scheduler process


def _die_with(parent: int) -> None:
    """Have Linux send this process SIGTERM when `parent` dies (at once if it already has)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != parent:  # the parent died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _bind_scheduler_to_worker() -> None:
    """In the child forked as rq's scheduler: end it with its worker.

    rq's scheduler process outlives a SIGKILLed worker otherwise, holding the scheduler lock for good.
    """
    if _scheduler_parent is not None:
        _die_with(_scheduler_parent)


os.register_at_fork(after_in_child=_bind_scheduler_to_worker)


class _Wiredesk:
    """What wiredesk adds to an rq worker: reconciling URL states in its maintenance, remembering a stop, fewer
    round trips and log lines per job."""

    asked_to_stop = False
    # rq's "result is kept for N seconds" after every job says nothing our own line per URL does not; the
    # line cost 0.2-0.5 ms of a no-op job's 3.2-3.7 ms of CPU (2,000 jobs, INFO level, stderr to /dev/null).
    log_result_lifespan = False

    def _start_scheduler(self, *args, **kwargs):
        """rq's, with the scheduler process bound to die with this worker (`_bind_scheduler_to_worker`)."""
        global _scheduler_parent
        _scheduler_parent = os.getpid()
        try:
            super()._start_scheduler(*args, **kwargs)
        finally:
            _scheduler_parent = None

    def request_stop(self, signum, frame):
        """rq's warm shutdown, noted so the restart loop does not start the worker again."""
        self.asked_to_stop = True
        super().request_stop(signum, frame)

    _alive_until = 0.0  # monotonic time until which the last heartbeat keeps this worker's keys

    def heartbeat(self, timeout=None, pipeline=None):
        """rq's heartbeat, in one round trip, and skipped when the keys already live as long (within a second).

        rq sends its three commands one by one, three or four times per job, each time extending the keys'
        TTL (a minute or more) by the few milliseconds since the last one.
        """
        timeout = timeout or self.worker_ttl + 60  # rq's default
        now = time.monotonic()
        if pipeline is None and self._alive_until >= now + timeout - HEARTBEAT_SLACK:
            return
        # Never shorten the keys' life: rq's heartbeat as each job starts asks for the job's timeout + 60 s, less
        # than the idle heartbeat's, which the next heartbeat between jobs would then have to send again.
        timeout = max(timeout, math.ceil(self._alive_until - now))
        self._alive_until = now + timeout
        if pipeline is not None:
            return super().heartbeat(timeout, pipeline)
        with self.connection.pipeline(transaction=False) as pipe:
            super().heartbeat(timeout, pipe)
            pipe.execute()

    _suspension_checked = -math.inf  # monotonic time of the last look for `rq suspend`

    def check_for_suspension(self, burst):
        """rq's, at most once per SUSPENSION_CHECK: rq looks before every job, a round trip each."""
        now = time.monotonic()
        if now - self._suspension_checked < SUSPENSION_CHECK:
            return
        self._suspension_checked = now
        super().check_for_suspension(burst)

    def handle_execution_ended(self, job, queue, heartbeat_ttl):
        """rq's, without its job heartbeat when the job has no callback to run (none of ours has).

        That heartbeat keeps the job in the started registry while its callback runs; without a callback, the
        next round trip takes it out of that registry anyway.
        """
        if job.success_callback is None and job.failure_callback is None:
            job.ended_at = now_utc()
            return
        super().handle_execution_ended(job, queue, heartbeat_ttl)

    def handle_exception(self, job, *exc_info):
        """rq's, without its ERROR and traceback for a failure the job recorded and logged as `retrying`.

        A 503 or a timeout that the next attempt may get past is no error; wiredesk's line says so, and an
        unexpected exception behind it has had its traceback logged by the job. Exception handlers still run.
        """
        from workers.jobs import Retrying  # the whole job chain: imported once a worker runs, not with this module

        if isinstance(exc_info[1], Retrying):
            call_exception_handlers(self._exc_handlers, job, *exc_info)
            return
        super().handle_exception(job, *exc_info)

    def set_state(self, state, pipeline=None):
        """rq's set_state, skipping the write when the state is already so (rq sets `idle` twice per job)."""
        if pipeline is None and state == self._state:
            return
        super().set_state(state, pipeline)

    def run_maintenance_tasks(self):
        """rq's registry cleaning, then a reconcile pass (one worker at a time holds its lock)."""
        super().run_maintenance_tasks()
        runtime = get_runtime()
        try:
            requeued = reconcile(runtime.settings, runtime.store, self.connection)
        except StopRequested:  # a SIGTERM mid-pass (rq raises it from its handler): swallowed, the worker ran on
            raise
        except Exception:  # a failed pass (Redis restarting, store locked) must not stop the worker
            LOGGER.exception("reconcile pass failed; next one in %ss", self.maintenance_interval)
            return
        if requeued:
            LOGGER.warning("reconcile requeued %d lost URLs", requeued)


class InProcessWorker(_Wiredesk, SimpleWorker):
    """Runs each job in the worker process itself: warm caches and connections, no fork per job (the default)."""

    def cleanup_execution(self, job, pipeline, execution=None):
        """rq's, with the worker marked idle in the same transaction, which ends the job: rq sends that as a
        round trip of its own once the job is done (in this worker, the job is done when the transaction is)."""
        super().cleanup_execution(job, pipeline=pipeline, execution=execution)
        self.set_state(WorkerStatus.IDLE, pipeline=pipeline)


class ForkingWorker(_Wiredesk, Worker):
    """Forks a work horse per job: a crash or a leak stays in the horse, at about 50 ms more per job."""


def worker_class(settings: Settings) -> type[Worker]:
    """The worker class `settings.worker_isolation` asks for."""
    return ForkingWorker if settings.worker_isolation else InProcessWorker


def preload(settings: Settings) -> None:
    """Import, load and warm up once in the parent, so every forked work horse starts warm.

    Without it each horse pays about a second of imports and first-call set-up before its first page.
    """
    from workers import jobs  # noqa: F401  (imports the whole job chain: trafilatura, lxml, httpx, the store)
    from workers.extract import WARM_UP_PAGE, warm_up

    warm_up()

    if settings.crosslingual:
        from threadpoolctl import threadpool_limits

        from workers.crosslingual import embed

        # One BLAS thread per worker process: N processes each spawning a thread per core would fight over
        # the cores (measured: half the pipeline's throughput on 2 cores with 2 workers).
        threadpool_limits(limits=1)

        embed(WARM_UP_PAGE)  # the encoder loads its weights lazily, on the first text it encodes
    init_runtime(settings)
    runtime = get_runtime()
    runtime.client, runtime.dedup, runtime.crosslingual  # built once here, inherited by every work horse
    # All of this lives as long as the process: out of the collector's sight, full collections stop walking
    # it (measured: GC time per 180 pages 0.33-0.60 s -> 0.10-0.16 s), and forked children leave its pages shared.
    gc.freeze()


def _exit_now(_signum, _frame) -> None:
    raise SystemExit(0)


def _bury(worker: Worker) -> bool:
    """Mark a worker that quit on a Redis failure dead and free its scheduler lock; False while Redis is away.

    Otherwise its key (restored from the AOF, same pid as its successor) would look alive and keep reconcile
    off its jobs, and its lock would hold every retry back until the lock expires.
    """
    try:
        worker.register_death()
        if worker.scheduler is not None:
            worker.scheduler.release_locks()
    except RedisError:
        return False
    return True


def work(settings: Settings, burst: bool) -> None:
    """One rq worker with its scheduler (retries and deferred jobs need it), started again after losing Redis.

    rq's worker quits when Redis fails under it mid-job (and cannot start while Redis is down); unless it was
    asked to stop or runs in burst mode, a new one starts after RESTART_DELAY.
    """
    # Until rq installs its handlers, SIGTERM just ends the process. A handler inherited through a fork belongs
    # to the forking process's objects: one an rq worker had installed there (a test's in-process worker) took
    # the SIGTERM of a worker starting up and stopped that other, stale worker, so this one never stopped.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    init_runtime(settings)
    if not burst:  # rq's own banners are below wiredesk's INFO (config.logs.rq_log_level); operators want one
        LOGGER.info("worker process %d started on queue %s", os.getpid(), settings.queue_name)
    unburied: list[Worker] = []
    while True:
        unburied = [old for old in unburied if not _bury(old)]
        worker = None
        try:
            connection = Redis.from_url(settings.redis_url)
            interval = reconcile_interval(settings)
            # rq runs maintenance only between dequeues; an idle worker blocks in BLMOVE for worker_ttl - 15 s.
            worker = worker_class(settings)([Queue(settings.queue_name, connection=connection)], connection=connection,
                                    maintenance_interval=interval, worker_ttl=interval + 15)
            worker.work(burst=burst, with_scheduler=True, logging_level=rq_log_level(settings))
        except RedisError as exc:
            LOGGER.warning("worker cannot reach Redis: %s", exc)
        if burst or (worker is not None and worker.asked_to_stop):
            return
        if worker is not None:
            unburied.append(worker)
        # rq's handlers belong to the worker that quit; until the next one starts, a signal just ends us.
        signal.signal(signal.SIGTERM, _exit_now)
        signal.signal(signal.SIGINT, _exit_now)
        LOGGER.warning("worker stopped without being asked (Redis lost?); starting again in %.0fs", RESTART_DELAY)
        time.sleep(RESTART_DELAY)


def _child_work(settings: Settings, burst: bool, parent: int) -> None:
    """`work` in a child of `wiredesk worker --processes N` or `wiredesk run`, ended (warmly: SIGTERM lets rq
    finish the job in hand) when its parent dies, even by SIGKILL: left alone it would go on under init, and a
    restarted service would run twice as many workers, some with old settings."""
    _die_with(parent)
    work(settings, burst)


def _start_one(settings: Settings, burst: bool) -> multiprocessing.Process:
    child = multiprocessing.get_context("fork").Process(target=_child_work, args=(settings, burst, os.getpid()))
    child.start()
    return child


def start_workers(settings: Settings, burst: bool, processes: int) -> list[multiprocessing.Process]:
    """Fork `processes` worker processes (after preloading, so they share the loaded libraries)."""
    preload(settings)
    return [_start_one(settings, burst) for _ in range(processes)]


def revive_workers(settings: Settings, children: list[multiprocessing.Process]) -> int:
    """Start a new worker process in place of each child that died (SIGKILL, OOM, crash); return how many.

    A child that exited cleanly (asked to stop, or burst done) is left alone.
    """
    revived = 0
    for n, child in enumerate(children):
        if child.exitcode not in (None, 0):
            LOGGER.warning("worker process %s died (exit code %s): starting another", child.pid, child.exitcode)
            children[n] = _start_one(settings, burst=False)
            revived += 1
    return revived


def stop_workers(children: list[multiprocessing.Process]) -> None:
    """Ask each worker for a warm shutdown (rq takes SIGTERM so: finish the job, then exit) and wait."""
    for child in children:
        if child.is_alive():
            child.terminate()
    for child in children:
        child.join()


def run_workers(settings: Settings, burst: bool = False, processes: int = 1) -> None:
    """Run `processes` workers until stopped (or, with `burst`, until the queue is empty)."""
    if processes == 1:
        preload(settings)
        work(settings, burst)
        return
    children = start_workers(settings, burst, processes)
    stopping = []

    def stop(_signum, _frame):
        stopping.append(True)
        stop_workers(children)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        while True:
            if not burst and not stopping:
                revive_workers(settings, children)
            if not any(child.is_alive() for child in children):
                return
            time.sleep(SUPERVISE_TICK)
    finally:
        signal.signal(signal.SIGTERM, previous)
