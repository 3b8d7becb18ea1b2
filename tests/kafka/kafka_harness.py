"""Processes for the Kafka tests: the mock cluster helper, salvo stream workers and kcat."""
import ctypes
import itertools
import json
import os
import signal
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SALVO = os.environ.get("SALVO_BIN", os.path.join(ROOT, "build", "salvo"))
MOCK = os.environ.get("SALVO_MOCK_CLUSTER", os.path.join(ROOT, "build", "tests", "kafka", "salvo_mock_cluster"))
MODEL = os.path.join(ROOT, "examples", "debian-sections")
DESCRIPTIONS = os.path.join(ROOT, "examples", "descriptions.jsonl")


def die_with_parent():
    """preexec_fn: the child gets SIGKILL when the test process dies, however it dies."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


class MockCluster:
    """The helper process; commands go to its stdin, one reply line each."""

    def __init__(self, topics, brokers=3):
        args = [MOCK, "--brokers", str(brokers)]
        for name, partitions in topics.items():
            args += ["--topic", f"{name}:{partitions}"]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True, preexec_fn=die_with_parent)
        line = self.proc.stdout.readline()
        if not line.startswith("bootstrap "):
            self.proc.kill()
            raise RuntimeError(f"mock cluster did not start: {line!r}")
        self.bootstrap = line.split()[1]

    def command(self, text):
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        reply = self.proc.stdout.readline().strip()
        if reply != "ok":
            raise RuntimeError(f"mock cluster: {text}: {reply}")

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait()
        self.proc.stdin.close()
        self.proc.stdout.close()


class Worker:
    """One `salvo stream` process; stderr goes to a file for the statistics lines."""

    def __init__(self, cluster, group="g", extra=(), input_topic="in", output_topic="out", threads=1,
                 stats_interval_ms=1000):
        self.log = tempfile.NamedTemporaryFile("w+", prefix="salvo-stream-", suffix=".log", delete=False)
        args = [SALVO, "stream", "--model", MODEL, "--brokers", cluster.bootstrap, "--input-topic", input_topic,
                "--output-topic", output_topic, "--group", group, "--threads", str(threads),
                "--stats-interval-ms", str(stats_interval_ms),
                "--stats-json", "-X", "session.timeout.ms=6000", "-X", "heartbeat.interval.ms=500", *extra]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=self.log, preexec_fn=die_with_parent)

    def terminate(self, timeout=60):
        """SIGTERM, then the exit code (None if it did not exit in time and had to be killed)."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def memory_kib(self):
        """(current RSS, peak RSS) in KiB from /proc, or None once the process has exited."""
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                fields = dict(line.split(":", 1) for line in f)
            return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])
        except (OSError, KeyError, ValueError):
            return None

    def stderr(self):
        with open(self.log.name, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stats(self):
        """The JSON statistics lines printed so far."""
        out = []
        for line in self.stderr().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        os.unlink(self.log.name)


def produce(cluster, topic, values, keys=None, headers=()):
    """Produces byte strings (one message each) with kcat; keys are optional byte strings, headers
    ("name=value" strings) go on every message."""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "messages")
        # \x02-delimited so that values may hold newlines; key and value separated by \x01.
        with open(path, "wb") as f:
            for i, value in enumerate(values):
                key = keys[i] if keys else b"k%d" % i
                f.write(key + b"\x01" + value + b"\x02")
        subprocess.run(["kcat", "-P", "-q", "-b", cluster.bootstrap, "-t", topic, "-D", "\\x02", "-K", "\\x01",
                        "-X", "message.max.bytes=4000000", *[a for h in headers for a in ("-H", h)], "-l", path],
                       check=True, timeout=60)


def consume(cluster, topic, committed_only=True):
    """Every message on `topic` as kcat's JSON envelope (payload and key as strings)."""
    args = ["kcat", "-C", "-q", "-b", cluster.bootstrap, "-t", topic, "-o", "beginning", "-e", "-J",
            "-X", "fetch.message.max.bytes=4000000"]
    if committed_only:
        args += ["-X", "isolation.level=read_committed"]
    out = subprocess.run(args, check=True, capture_output=True, timeout=60).stdout
    return [json.loads(line) for line in out.decode("utf-8", errors="replace").splitlines() if line.strip()]


def wait_for(predicate, timeout, interval=0.5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    return predicate()


def wait_consuming(cluster, topic, workers, timeout=60):
    """Until every worker has consumed something, so holds partitions: warm-up requests (ids
    "warm-up N", keys spread over the partitions) go to `topic` once a second. False on timeout."""
    deadline = time.time() + timeout
    for i in itertools.count():
        if all(w.stats() and w.stats()[-1]["requests"] > 0 for w in workers):
            return True
        if time.time() > deadline:
            return False
        produce(cluster, topic, [json.dumps({"id": f"warm-up {i}", "text": "warm up"}).encode()] * 24,
                keys=[b"warm-up %d-%d" % (i, k) for k in range(24)])
        time.sleep(1)


def headers(message):
    """kcat -J writes headers as a flat [name, value, ...] list."""
    h = message.get("headers") or []
    if isinstance(h, dict):
        return h
    return dict(zip(h[0::2], h[1::2]))
