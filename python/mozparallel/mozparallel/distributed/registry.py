"""Which workers are alive on a broker: each ``paralleltest worker`` beats
once a second (a key that expires BEAT_MS after the last beat, so liveness
is the broker's clock, never a comparison of two machines' clocks) and
says how many slots it has. A stopping worker sets its "draining" key: its
slots start nothing new, and finish what they run while it still beats. Coordinators read the beats to size their window
and to tell "worker W joined / left / lost"."""

import json
import threading

PREFIX = "mozparallel:fleet:"
NAMES = PREFIX + "workers"          # SET of worker names ever seen (pruned as they expire)
BEAT_EVERY = 1.0
BEAT_MS = 4000


def beat_key(name):
    return PREFIX + "worker:" + name


def draining_key(name):
    return PREFIX + "draining:" + name


def beat(client, name, info):
    pipe = client.pipeline()
    pipe.set(beat_key(name), json.dumps(info), px=BEAT_MS)
    pipe.sadd(NAMES, name)
    pipe.execute()


def live_workers(client):
    """{name: info} of the workers whose beat has not expired; the names of
    expired ones are dropped from the set."""
    names = sorted(v.decode() if isinstance(v, bytes) else v for v in client.smembers(NAMES))
    if not names:
        return {}
    values = client.mget([beat_key(n) for n in names])
    live, gone = {}, []
    for name, value in zip(names, values):
        if value is None:
            gone.append(name)
            continue
        try:
            live[name] = json.loads(value)
        except ValueError:
            gone.append(name)
    if gone:
        client.srem(NAMES, *gone)
    return live


class Heartbeat:
    """A daemon thread beating for a worker until ``stop()``; errors (the
    broker away for a while) are retried at the next beat. ``drain()``
    (the worker is shutting down) keeps beating, so the tests its slots
    finish are not taken for lost, and marks it draining: its slots start
    nothing new."""

    def __init__(self, connect, name, info):
        self.connect = connect
        self.name = name
        self.info = info
        self.draining = False
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mozparallel-heartbeat", daemon=True)

    def start(self):
        self._thread.start()
        return self

    def _run(self):
        client = None
        while not self._stopped.is_set():
            try:
                if client is None:
                    client = self.connect()
                    client.delete(draining_key(self.name))    # a worker of this name stopped before
                beat(client, self.name, self.info)
                if self.draining:
                    client.set(draining_key(self.name), 1, px=BEAT_MS)
            except Exception:       # the broker away: the next beat tries again
                client = None
            self._stopped.wait(BEAT_EVERY)

    def drain(self):
        if self.draining:
            return
        self.draining = True
        try:
            self.connect().set(draining_key(self.name), 1, px=BEAT_MS)
        except Exception:
            pass        # the next beat sets it

    def stop(self):
        """The worker has stopped: no more beats, and it is gone at once."""
        self._stopped.set()
        try:
            client = self.connect()
            pipe = client.pipeline()
            pipe.delete(beat_key(self.name), draining_key(self.name))
            pipe.execute()
        except Exception:
            pass
