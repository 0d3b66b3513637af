"""A real Redis master, a replica and three sentinels on free localhost ports, for failover tests."""

import os
import signal
import subprocess
import time

import redis

from receiver.procs import redis_server
from receiver.procs.stack import free_port

MASTER_NAME = "dumper"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 5000
START_TIMEOUT = 20.0


class SentinelCluster:
    """Start ``redis-server`` twice (master, replica) and as three sentinels, all private to ``workdir``."""

    def __init__(self, workdir):
        self.workdir = workdir
        self.procs = {}
        self.ports = {name: free_port() for name in ("a", "b", "s1", "s2", "s3")}
        self.start_redis("a")
        self.start_redis("b", replica_of=self.ports["a"])
        for name in ("s1", "s2", "s3"):
            self.start_sentinel(name)
        self.wait(lambda: self.master_port() == self.ports["a"] and self.replicas_known() >= 1)

    def start_redis(self, name, replica_of=None):
        """Start (or restart) the data server ``name`` with AOF on."""
        folder = os.path.join(self.workdir, name)
        os.makedirs(folder, exist_ok=True)
        args = redis_server.command(folder, port=self.ports[name], persist=True)
        if replica_of:
            args += ["--replicaof", "127.0.0.1", str(replica_of)]
        self.procs[name] = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        redis_server.wait_ready(f"redis://127.0.0.1:{self.ports[name]}/0", self.procs[name])

    def start_sentinel(self, name):
        """Start sentinel ``name`` watching the master."""
        conf = os.path.join(self.workdir, f"{name}.conf")
        with open(conf, "w") as handle:
            handle.write(
                f"port {self.ports[name]}\nbind 127.0.0.1\ndir {self.workdir}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.ports['a']} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n"
                f"sentinel failover-timeout {MASTER_NAME} {FAILOVER_TIMEOUT_MS}\n"
            )
        self.procs[name] = subprocess.Popen(
            [redis_server.binary(), conf, "--sentinel"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )

    @property
    def sentinels(self):
        """Return ``REDIS_SENTINELS``'s value for this cluster."""
        return ",".join(f"127.0.0.1:{self.ports[name]}" for name in ("s1", "s2", "s3"))

    def env(self):
        """Return the settings that reach the master through the sentinels."""
        return {
            "REDIS_SENTINELS": self.sentinels,
            "REDIS_SENTINEL_MASTER": MASTER_NAME,
            "REDIS_URL": "redis://sentinel-chooses/0",
        }

    def ask(self, command, *args):
        """Return the first sentinel's answer to ``SENTINEL command``, or None."""
        try:
            client = redis.Redis(port=self.ports["s1"], socket_timeout=1, decode_responses=True)
            return client.execute_command("SENTINEL", command, *args)
        except redis.RedisError:
            return None

    def master_port(self):
        """Return the port of the master the sentinels name now, or None."""
        answer = self.ask("get-master-addr-by-name", MASTER_NAME)
        return int(answer[1]) if answer else None

    def replicas_known(self):
        """Return how many replicas the sentinels know."""
        answer = self.ask("replicas", MASTER_NAME)
        return len(answer) if answer else 0

    def kill_master(self):
        """SIGKILL the current master; return its name."""
        name = next(n for n in ("a", "b") if self.ports[n] == self.master_port())
        self.procs[name].send_signal(signal.SIGKILL)
        self.procs[name].wait(timeout=10)
        return name

    def wait(self, condition, timeout=START_TIMEOUT):
        """Wait until ``condition()`` holds; fail after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if condition():
                return
            time.sleep(0.1)
        raise AssertionError("the sentinel cluster did not settle")

    def stop(self):
        """Stop every process of the cluster."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
