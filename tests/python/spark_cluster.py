"""A Spark standalone cluster on localhost for tests: a master and N workers started with
spark-class from the installed PySpark, each in its own process group (so a test can kill a worker,
its executor and its Python workers at once, as a machine loss would), stopped at the end."""

import ctypes
import json
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import pyspark


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ancestors(pid: int) -> list:
    """pid, its parent, grandparent, ... (from /proc)."""
    chain = []
    while pid > 1:
        chain.append(pid)
        try:
            with open(f"/proc/{pid}/stat") as f:
                pid = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            break
    return chain


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the test process dies, however it dies."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class StandaloneCluster:
    def __init__(self, workdir: pathlib.Path, workers: int = 2, cores: int = 1, memory: str = "1g"):
        self.workdir = workdir
        self.home = pathlib.Path(pyspark.__file__).parent
        self.port, self.ui = free_port(), free_port()
        self.url = f"spark://127.0.0.1:{self.port}"
        self.env = dict(os.environ, SPARK_HOME=str(self.home), PYSPARK_PYTHON=sys.executable,
                        PYSPARK_DRIVER_PYTHON=sys.executable, SPARK_LOCAL_IP="127.0.0.1",
                        SPARK_DAEMON_MEMORY="256m", SPARK_LOG_DIR=str(workdir / "logs"),
                        SPARK_WORKER_DIR=str(workdir / "work"))
        self.master = self._start("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                                  "--port", str(self.port), "--webui-port", str(self.ui))
        self.wait_for(lambda: self.state() is not None, "the master")
        self.workers = [
            self._start(f"worker{i}", "org.apache.spark.deploy.worker.Worker", "--host", "127.0.0.1",
                        "--cores", str(cores), "--memory", memory, "--webui-port", str(free_port()),
                        "--work-dir", str(workdir / f"work{i}"), self.url)
            for i in range(workers)
        ]
        self.wait_for(lambda: len(self.alive_workers()) == workers, f"{workers} workers")

    def _start(self, name: str, cls: str, *args: str) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")
        return subprocess.Popen([str(self.home / "bin" / "spark-class"), cls, *args], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                                preexec_fn=_die_with_parent)

    def state(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ui}/json/", timeout=2) as r:
                return json.load(r)
        except OSError:
            return None

    def alive_workers(self) -> list:
        state = self.state() or {}
        return [w for w in state.get("workers", []) if w.get("state") == "ALIVE"]

    @staticmethod
    def wait_for(condition, what: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise TimeoutError(f"timed out waiting for {what}")
            time.sleep(0.2)

    def worker_of(self, pid: int):
        """The index of the worker whose process tree holds pid, or None."""
        chain = ancestors(pid)
        for i, w in enumerate(self.workers):
            if w.pid in chain:
                return i
        return None

    def kill_worker(self, index: int) -> None:
        """kill -9 of worker `index`, its executor and the executor's Python workers."""
        os.killpg(self.workers[index].pid, signal.SIGKILL)
        self.workers[index].wait()

    def stop(self) -> None:
        for p in self.workers + [self.master]:
            if p.poll() is None:
                try:
                    os.killpg(p.pid, signal.SIGTERM)
                    p.wait(timeout=20)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    try:
                        os.killpg(p.pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    p.wait()
