"""Benchmark: tests per second through one fleet coordinator, on a real
redis-server on loopback, N trivial tests (``echo 1..1; echo ok 1``).

* ``ceiling``: the coordinator against instant responders, processes that
  speak the slots' protocol (runstate.py: move, start, finish) and answer
  each test with a passing result without running anything. This is what
  one coordinator and the broker can carry; the workers are not the limit.
* ``fleet``: the same tests through real ``paralleltest worker`` processes
  (default -j), which run each test with the local pool.
* ``local``: the same tests run locally with as many jobs as the fleet has
  slots, for comparison.
* ``celery`` (``--celery``): what one Celery task per test would cost here:
  ``send_task`` CPU per task, and no-op tasks a prefork worker finishes
  per second.

Rates are tests over the span from the first test_start to the last
test_end of the raw log (start-up excluded), and over the command's whole
wall time; coordinator CPU is its rusage. The fit printed at the end is
what ``paralleltest simulate`` uses: the coordinator's rate (the ceiling),
the broker's (1 / its CPU per test), a slot's overhead per test in the
fleet run, and simulate's prediction for that run beside what it took.

    python -m mozparallel.bench.fleet_bench [--tests 1000] [--responders 2] [--workers 2] [--celery]
"""

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, directory):
        import redis

        self.port = free_port()
        self.url = "redis://127.0.0.1:%d/0" % self.port
        self.proc = subprocess.Popen([REDIS, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                      "--appendonly", "no", "--dir", directory],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port)
        deadline = time.monotonic() + 10
        while True:
            try:
                self.client.ping()
                return
            except redis.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def cpu(self):
        import psutil

        t = psutil.Process(self.proc.pid).cpu_times()
        return t.user + t.system

    def stop(self):
        self.client.close()
        self.proc.terminate()
        self.proc.wait(10)


def write_tests(directory, n):
    os.makedirs(directory, exist_ok=True)
    for i in range(n):
        path = os.path.join(directory, "t%05d.sh" % i)
        with open(path, "w") as f:
            f.write("#!/bin/sh\necho 1..1\necho ok 1\n")
        os.chmod(path, 0o755)


def run_command(args, cwd, log):
    """(wall seconds, CPU seconds of the command and its children it waited for, exit status)."""
    env = dict(os.environ)
    env.pop("MOZ_OBJDIR", None)
    started = time.monotonic()
    with open(log, "w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "mozparallel"] + args, cwd=cwd, env=env, stdout=out,
                                stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return time.monotonic() - started, usage.ru_utime + usage.ru_stime, proc.returncode


def span(raw_log):
    """(seconds from the first test_start to the last test_end, test_end count)."""
    first = last = None
    ends = 0
    with open(raw_log) as f:
        for line in f:
            ev = json.loads(line)
            if ev["action"] == "test_start" and first is None:
                first = ev["time"]
            elif ev["action"] == "test_end":
                last = ev["time"]
                ends += 1
    return ((last - first) / 1000.0 if first is not None else None), ends


def figures(name, n, wall, cpu, raw_log, extra=None):
    seconds, ends = span(raw_log)
    out = {"name": name, "tests": n, "reported": ends, "wall": round(wall, 3), "span": seconds,
           "tests_per_s_span": round(n / seconds, 1) if seconds else None,
           "tests_per_s_wall": round(n / wall, 1), "coordinator_cpu_ms_per_test": round(cpu / n * 1000, 3)}
    out.update(extra or {})
    return out


# -- instant responders ---------------------------------------------------------
def respond(url, name, slots):
    """Serve the first run that appears on ``url`` with ``slots`` logical
    slots, answering every test at once with a pass, until it is finished."""
    from ..distributed.registry import beat
    from ..distributed.runstate import LEASE_MS, RunState, connect

    client = connect(url)
    run_id = None
    while run_id is None:
        for key in client.scan_iter(match="mozparallel:dist:*:meta"):
            run_id = key.decode()[len("mozparallel:dist:"):-len(":meta")]
            break
        beat(client, name, {"slots": slots})
        time.sleep(0.01)
    state = RunState(client, run_id)
    ids = ["%s/%d" % (name, k) for k in range(slots)]
    for slot in ids:
        state.serving(slot, name)
    last_beat = 0.0
    while True:
        now = time.monotonic()
        if now - last_beat > 1.0:
            beat(client, name, {"slots": slots})
            last_beat = now
            if client.exists(state.finished):
                return
        pipe = client.pipeline(transaction=False)
        for slot in ids:
            pipe.lmove(state.queue, state.taking(slot), "LEFT", "RIGHT")
        moved = [slot for slot, got in zip(ids, pipe.execute()) if got is not None]
        if not moved:
            client.blmove(state.queue, state.taking(ids[0]), 0.05, "LEFT", "RIGHT") and moved.append(ids[0])
            if not moved:
                continue
        pipe = client.pipeline(transaction=False)
        for slot in moved:
            state._start(keys=[state.taking(slot), state.done, state.attempt, state.stream, state.cancel_key,
                               state.queue, "mozparallel:fleet:draining:" + name],
                         args=[slot, LEASE_MS, state.lease_prefix, state.refused_prefix, name], client=pipe)
        answers = pipe.execute()
        pipe = client.pipeline(transaction=False)
        for slot, answer in zip(moved, answers):
            if answer[0] != b"run":
                continue
            test = json.loads(answer[1])["test"]
            end = {"action": "test_end", "test": test, "status": "OK",
                   "extra": {"wall": 0.001, "cpu_user": 0.0, "cpu_system": 0.0, "worker": slot}}
            result = {"events": [end], "worker": slot, "unexpected": False}
            state._finish(keys=[state.taking(slot), state.done, state.stream, state.lease(test)],
                          args=[test, json.dumps(result), slot, answer[2].decode(), 3600], client=pipe)
        pipe.execute()


# -- the measurements ---------------------------------------------------------------
def coordinator_args(url, raw, store, reporter):
    return ["--broker", url, "-r", reporter, "--log-raw", raw, "--store", store, "tests"]


def ceiling(work, n, responders, slots, reporter):
    server = Server(work)
    procs = [subprocess.Popen([sys.executable, "-m", "mozparallel.bench.fleet_bench", "--respond", server.url,
                               "--name", "r%d" % i, "--slots", str(slots)]) for i in range(responders)]
    try:
        time.sleep(1.0)
        raw = os.path.join(work, "ceiling.log")
        redis_cpu = server.cpu()
        wall, cpu, status = run_command(coordinator_args(server.url, raw, os.path.join(work, "c.sqlite"), reporter),
                                        work, os.path.join(work, "ceiling.out"))
        extra = {"responders": responders, "slots": responders * slots, "exit": status,
                 "redis_cpu_ms_per_test": round((server.cpu() - redis_cpu) / n * 1000, 3)}
        return figures("ceiling", n, wall, cpu, raw, extra)
    finally:
        for p in procs:
            p.wait(30)
        server.stop()


def fleet(work, n, workers, reporter):
    server = Server(work)
    procs = []
    for i in range(workers):
        env = dict(os.environ)
        env.pop("MOZ_OBJDIR", None)
        procs.append(subprocess.Popen([sys.executable, "-m", "mozparallel", "worker", "--broker", server.url,
                                       "--name", "w%d" % i], cwd=work, env=env, stdout=subprocess.DEVNULL,
                                      stderr=subprocess.DEVNULL, start_new_session=True))
    try:
        deadline = time.monotonic() + 30
        while server.client.exists(*["mozparallel:fleet:worker:w%d" % i for i in range(workers)]) < workers:
            if time.monotonic() > deadline:
                raise RuntimeError("workers did not start")
            time.sleep(0.05)
        slots = sum(json.loads(server.client.get("mozparallel:fleet:worker:w%d" % i))["slots"]
                    for i in range(workers))
        raw = os.path.join(work, "fleet.log")
        redis_cpu = server.cpu()
        wall, cpu, status = run_command(coordinator_args(server.url, raw, os.path.join(work, "f.sqlite"), reporter),
                                        work, os.path.join(work, "fleet.out"))
        walls = []
        with open(raw) as f:
            for line in f:
                ev = json.loads(line)
                if ev["action"] == "test_end":
                    walls.append(ev.get("extra", {}).get("wall") or 0.0)
        result = figures("fleet", n, wall, cpu, raw, {"workers": workers, "slots": slots, "exit": status,
                                                      "redis_cpu_ms_per_test": round((server.cpu() - redis_cpu) / n
                                                                                     * 1000, 3)})
        seconds = result["span"] or wall
        # Slot time not spent inside a test: the fleet's overhead per test.
        result["slot_overhead_ms_per_test"] = round((slots * seconds - sum(walls)) / n * 1000, 2)
        result["mean_wall"] = round(sum(walls) / max(1, len(walls)), 5)
        return result
    finally:
        import signal

        for p in procs:
            os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()
        server.stop()


def local(work, n, jobs, reporter):
    raw = os.path.join(work, "local.log")
    wall, cpu, status = run_command(["-j", str(jobs), "-r", reporter, "--log-raw", raw, "--store",
                                     os.path.join(work, "l.sqlite"), "tests"], work, os.path.join(work, "local.out"))
    return figures("local", n, wall, cpu, raw, {"jobs": jobs, "exit": status})


def celery_baseline(work, n):
    """send_task's CPU per task, and no-op tasks/s through one prefork worker (-c 2)."""
    server = Server(work)
    worker = subprocess.Popen([sys.executable, "-m", "mozparallel.bench.fleet_bench", "--noop-worker", server.url],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(3.0)
        app = _noop_app(server.url)
        started, cpu = time.monotonic(), time.process_time()
        for i in range(n):
            app.send_task("bench.noop", args=[i])
        sent_cpu = time.process_time() - cpu
        while server.client.llen("bench:done") < n:
            time.sleep(0.01)
        wall = time.monotonic() - started
        return {"name": "celery", "tasks": n, "send_task_cpu_us": round(sent_cpu / n * 1e6, 1),
                "noop_tasks_per_s": round(n / wall, 1)}
    finally:
        worker.terminate()
        worker.wait(15)
        server.stop()


def _noop_app(url):
    from celery import Celery

    app = Celery("bench", broker=url, set_as_current=False)
    app.conf.update(task_acks_late=True, worker_prefetch_multiplier=1, task_ignore_result=True,
                    task_default_queue="bench", task_serializer="json", accept_content=["json"],
                    worker_hijack_root_logger=False, broker_connection_retry_on_startup=True)
    return app


def noop_worker(url):
    import redis

    app = _noop_app(url)
    client = redis.Redis.from_url(url)

    @app.task(name="bench.noop")
    def noop(i):
        client.rpush("bench:done", i)

    app.worker_main(["worker", "-c", "2", "-Q", "bench", "--loglevel", "WARNING", "--without-gossip",
                     "--without-mingle", "-O", "fair"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tests", type=int, default=1000)
    parser.add_argument("--responders", type=int, default=2, help="instant responder processes (ceiling)")
    parser.add_argument("--slots", type=int, default=16, help="slots of each responder (ceiling)")
    parser.add_argument("--workers", type=int, default=2, help="paralleltest worker processes (fleet)")
    parser.add_argument("--reporter", default="tbpl", help="the coordinator's -r (its stdout goes to a file)")
    parser.add_argument("--only", default="ceiling,fleet,local", help="which measurements, comma-separated")
    parser.add_argument("--celery", action="store_true", help="also measure one Celery task per test")
    parser.add_argument("--out", default=None, help="write the results as JSON here")
    parser.add_argument("--respond", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--noop-worker", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--name", default="r0", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.respond:
        respond(args.respond, args.name, args.slots)
        return 0
    if args.noop_worker:
        noop_worker(args.noop_worker)
        return 0
    if not os.path.exists(REDIS):
        sys.exit("fleet_bench: redis-server is not installed")
    only = args.only.split(",")
    results = []
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as work:
        write_tests(os.path.join(work, "tests"), args.tests)
        fleet_slots = None
        if "ceiling" in only:
            results.append(ceiling(work, args.tests, args.responders, args.slots, args.reporter))
        if "fleet" in only:
            results.append(fleet(work, args.tests, args.workers, args.reporter))
            fleet_slots = results[-1]["slots"]
        if "local" in only:
            results.append(local(work, args.tests, fleet_slots or os.cpu_count() or 1, args.reporter))
        if args.celery:
            results.append(celery_baseline(work, args.tests))
    for r in results:
        print(json.dumps(r))
    by = {r["name"]: r for r in results}
    if "ceiling" in by and by["ceiling"]["tests_per_s_span"]:
        fit = {"coordinator_rate": by["ceiling"]["tests_per_s_span"],
               "broker_rate": round(1000.0 / by["ceiling"]["redis_cpu_ms_per_test"])}
        if "fleet" in by:
            fleet_run = by["fleet"]
            fit["overhead"] = round(fleet_run["slot_overhead_ms_per_test"] / 1000.0, 4)
            # What simulate predicts for the fleet run with these figures, against what it took.
            from ..commands.simulate import dispatch_seconds, queue_makespan

            walls = {"t%d" % i: fleet_run["mean_wall"] for i in range(args.tests)}
            fit["fleet_predicted_s"] = round(queue_makespan(
                sorted(walls), walls, fleet_run["slots"], fit["overhead"],
                dispatch_seconds(fit["coordinator_rate"], fit["broker_rate"])), 3)
            fit["fleet_measured_s"] = fleet_run["span"]
        print("fit for paralleltest simulate (--coordinator-rate, --broker-rate, --overhead): " + json.dumps(fit))
        results.append(dict(name="fit", **fit))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
