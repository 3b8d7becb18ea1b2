"""`salvo stream`'s delivery promises against a real Apache Kafka cluster (KRaft), under faults:
workers killed with kill -9, paused past their session (zombies), joining and leaving a
cooperative-sticky group, transactions aborted by the broker, a broker killed and restarted, and a
response topic throttled by a quota. Responses are read back with kcat in read_committed mode.

    python -m unittest -v test_faults.SingleBrokerFaults test_faults.ThreeBrokerFaults

Sizes are parameters, so a longer run can be done by hand:
    SALVO_KAFKA_REQUESTS  requests per scenario (default 3000)
    SALVO_KAFKA_REPEATS   runs of each kill point (early, middle, late) and scenario (default 1)
    SALVO_KAFKA_RESULTS   a file to which each run appends one JSON line (docs/reliability.md)
    SALVO_KAFKA_FETCH_BUFFERS=default  the memory test with librdkafka's default fetch buffers:
                          memory is measured and reported, not bounded
"""
import collections
import itertools
import json
import os
import re
import signal
import time
import unittest

from kafka_harness import Worker, consume, produce, wait_consuming, wait_for
from real_cluster import KafkaCluster
from test_stream import numbered_requests

REQUESTS = int(os.environ.get("SALVO_KAFKA_REQUESTS", "3000"))
REPEATS = int(os.environ.get("SALVO_KAFKA_REPEATS", "1"))
RESULTS = os.environ.get("SALVO_KAFKA_RESULTS")
FETCH_BUFFERS = os.environ.get("SALVO_KAFKA_FETCH_BUFFERS", "small")

# Where in the load a worker or broker is killed: the fraction of the responses already written.
KILL_POINTS = {"early": 0.1, "middle": 0.5, "late": 0.85}

# Short sequences and small batches: many transactions per run, quick on 2 cores.
FAST = ["--task", "classify", "--max-length", "64", "--batch-rows", "32"]
# A killed worker's open transaction holds back read_committed readers, and the offsets of its
# partitions, until the broker aborts it: a 10 s transaction timeout instead of librdkafka's 60 s.
EXACTLY_ONCE = ["--exactly-once", "-X", "transaction.timeout.ms=10000"]
COOPERATIVE = ["-X", "partition.assignment.strategy=cooperative-sticky"]


def exit_stats(worker):
    stats = [s for s in worker.stats() if s["event"] == "exit"]
    return stats[-1] if stats else None


def last_stats(worker):
    stats = worker.stats()
    return stats[-1] if stats else {}


class RealClusterTest(unittest.TestCase):
    """A cluster for the class; each run gets fresh topics (input 6 partitions, output 3) and group."""

    nodes = 1
    _names = itertools.count()

    @classmethod
    def setUpClass(cls):
        cls.cluster = KafkaCluster(nodes=cls.nodes)

    @classmethod
    def tearDownClass(cls):
        cls.cluster.stop()

    def setUp(self):
        self.workers = []

    def tearDown(self):
        self.close_workers()
        self.cluster.heal()

    def close_workers(self):
        for w in self.workers:
            if w.proc.poll() is None:
                try:
                    os.kill(w.proc.pid, signal.SIGCONT)
                except OSError:
                    pass
            w.close()
        self.workers = []

    def fresh_topics(self, partitions=6):
        self.base = self._progress = 0
        name = re.sub(r"[^a-z0-9]+", "-", self._testMethodName.lower())[5:36] + f"-{next(self._names)}"
        self.IN, self.OUT, self.group = f"{name}-in", f"{name}-out", name
        self.cluster.create_topics({self.IN: partitions, self.OUT: 3})

    def worker(self, *extra, stats_interval_ms=1000):
        w = Worker(self.cluster, group=self.group, extra=extra, input_topic=self.IN, output_topic=self.OUT,
                   stats_interval_ms=stats_interval_ms)
        self.workers.append(w)
        return w

    def wait_consuming(self, workers):
        """Until every worker holds partitions (warm-up requests, whose string ids answered()
        leaves out); progress is then counted from here."""
        self.assertTrue(wait_consuming(self.cluster, self.IN, workers),
                        "not all workers got partitions: " + self.logs())
        self.base = self.progress()

    def answered(self):
        """Request ids in the read_committed output, with their counts (warm-up requests left out)."""
        ids = (json.loads(m["payload"])["id"] for m in consume(self.cluster, self.OUT))
        return collections.Counter(i for i in ids if isinstance(i, int))

    def progress(self):
        """Records written to the output (aborted ones and transaction markers included): cheap.
        While a partition has no leader (a broker just died), the last value seen."""
        value = self.cluster.high_watermarks(self.OUT)
        if value is not None:
            self._progress = value
        return getattr(self, "_progress", 0)

    def wait_progress(self, records, timeout=180):
        """Until `records` more than self.base were written to the output."""
        self.assertTrue(wait_for(lambda: self.progress() - self.base >= records, timeout, interval=0.2),
                        f"no progress to {records} records: " + self.logs())

    def wait_all_answered(self, n, timeout=240):
        self.assertTrue(wait_for(lambda: len(self.answered()) >= n, timeout, interval=1),
                        f"not all {n} answered: " + self.logs())

    def logs(self):
        return "".join(f"\n--- worker {i}\n{w.stderr()[-2500:]}" for i, w in enumerate(self.workers))

    def check_output(self, n, exactly_once):
        """Counts lost and duplicated responses; asserts none lost (and none twice for exactly-once)."""
        ids = self.answered()
        lost = len(set(range(n)) - set(ids))
        duplicates = sum(ids.values()) - len(ids)
        self.assertEqual(lost, 0, "every request answered")
        self.assertEqual(set(ids) - set(range(n)), set(), "only requests answered")
        if exactly_once:
            self.assertEqual(duplicates, 0, "read_committed output holds every response once")
        return lost, duplicates

    def record(self, scenario, **numbers):
        row = {"scenario": scenario, **numbers}
        print(f"\n  {json.dumps(row)}", flush=True)
        if RESULTS:
            with open(RESULTS, "a") as f:
                f.write(json.dumps(row) + "\n")

    def kill_one_of_two(self, mode, point):
        """Two workers; kill -9 one at `point` of the load; the survivor answers everything."""
        n = REQUESTS
        self.fresh_topics()
        args = FAST + (EXACTLY_ONCE if mode == "exactly-once" else [])
        a, b = self.worker(*args), self.worker(*args)
        self.wait_consuming([a, b])  # both share the load from its start
        produce(self.cluster, self.IN, numbered_requests(n))
        self.wait_progress(int(KILL_POINTS[point] * n))
        a.kill9()
        self.wait_all_answered(n)
        self.assertEqual(b.terminate(), 0, b.stderr()[-3000:])
        lost, duplicates = self.check_output(n, mode == "exactly-once")
        self.record(f"kill -9 one of two workers, {mode}", point=point, requests=n, lost=lost,
                    duplicates=duplicates, aborted=exit_stats(b)["aborted_transactions"])
        self.close_workers()


class SingleBrokerFaults(RealClusterTest):
    nodes = 1

    def test_exactly_once_kill_9_of_a_worker(self):
        for point, run in itertools.product(KILL_POINTS, range(REPEATS)):
            with self.subTest(point=point, run=run):
                self.kill_one_of_two("exactly-once", point)

    def test_at_least_once_kill_9_of_a_worker(self):
        for point, run in itertools.product(KILL_POINTS, range(REPEATS)):
            with self.subTest(point=point, run=run):
                self.kill_one_of_two("at-least-once", point)

    def test_exactly_once_aborted_transactions_are_redone(self):
        # Once the worker runs, the response topic takes no record batch over 600 bytes (salvo
        # read its limit at start; were it 600 then, responses would be fitted to it): every
        # produce fails (MESSAGE_TOO_LARGE), every transaction is aborted and its requests redone.
        # Then the limit goes back to Kafka's default and the same requests are answered, once.
        for run in range(REPEATS):
            n = REQUESTS // 4
            self.fresh_topics()
            w = self.worker(*FAST, *EXACTLY_ONCE, stats_interval_ms=200)
            self.wait_consuming([w])
            self.cluster.set_topic_config(self.OUT, {"max.message.bytes": 600})
            produce(self.cluster, self.IN, numbered_requests(n))
            self.assertTrue(wait_for(lambda: last_stats(w).get("aborted_transactions", 0) >= 3, 120, 0.2),
                            self.logs())
            self.assertEqual(len(self.answered()), 0, "an aborted transaction's responses are invisible")
            self.cluster.set_topic_config(self.OUT, {"max.message.bytes": 1048588})
            self.wait_all_answered(n)
            self.assertEqual(w.terminate(), 0, self.logs())
            stats = exit_stats(w)
            self.assertGreaterEqual(stats["aborted_transactions"], 3)
            warm_up = len(consume(self.cluster, self.OUT)) - sum(self.answered().values())
            self.assertEqual(stats["responses"] - warm_up, n, "each request counted once, when committed")
            lost, duplicates = self.check_output(n, exactly_once=True)
            self.record("exactly-once, transactions aborted by the broker then redone", requests=n, lost=lost,
                        duplicates=duplicates, aborted=stats["aborted_transactions"])
            self.close_workers()

    def test_exactly_once_zombie_is_fenced(self):
        # A worker stopped (SIGSTOP) longer than its session and its transaction timeout: the group
        # gives its partitions to the other worker, the broker aborts its open transaction. When it
        # continues (SIGCONT) it must not commit anything, and it must exit or carry on cleanly.
        for run in range(REPEATS):
            n = REQUESTS
            self.fresh_topics()
            zombie, survivor = self.worker(*FAST, *EXACTLY_ONCE), self.worker(*FAST, *EXACTLY_ONCE)
            self.wait_consuming([zombie, survivor])
            produce(self.cluster, self.IN, numbered_requests(n))
            self.wait_progress(int(0.3 * n))
            os.kill(zombie.proc.pid, signal.SIGSTOP)
            stopped = time.time()
            self.wait_all_answered(n)
            time.sleep(max(0.0, 16 - (time.time() - stopped)))  # past session (6 s) and transaction (10 s)
            before = self.answered()
            os.kill(zombie.proc.pid, signal.SIGCONT)
            # Let it run into the fence: until it exits, or for 20 s.
            wait_for(lambda: zombie.proc.poll() is not None, 20, interval=0.5)
            after = self.answered()
            self.assertEqual(after, before, "the zombie committed nothing")
            code = zombie.terminate()
            self.assertIsNotNone(code, "the zombie did not hang")
            fenced = "fenced" in zombie.stderr() or "epoch" in zombie.stderr().lower()
            self.assertTrue(code == 0 or (code == 3 and fenced), f"exit {code}: {zombie.stderr()[-3000:]}")
            self.assertEqual(survivor.terminate(), 0, survivor.stderr()[-3000:])
            lost, duplicates = self.check_output(n, exactly_once=True)
            last = [line for line in zombie.stderr().splitlines() if line.startswith("salvo")][-1:]
            self.record("exactly-once, zombie worker (SIGSTOP past its session, then SIGCONT)", requests=n,
                        lost=lost, duplicates=duplicates, zombie_exit=code,
                        zombie_last_line=last[0][:200] if last else "")
            self.close_workers()

    def cooperative_members_join_and_leave(self, mode):
        """Requests arrive in six parts; between parts members join (up to four) and leave (SIGTERM)."""
        n = REQUESTS
        self.fresh_topics(partitions=8)
        requests = numbered_requests(n)
        part = n // 6
        args = FAST + COOPERATIVE + (EXACTLY_ONCE if mode == "exactly-once" else [])
        members = [self.worker(*args)]
        exits = []
        for step in range(6):
            produce(self.cluster, self.IN, requests[step * part:(step + 1) * part if step < 5 else n])
            if step in (1, 2, 4):
                members.append(self.worker(*args))
            elif step in (3, 5):
                leaving = members.pop(0)
                exits.append(leaving.terminate())
            self.wait_progress(int((step + 0.5) * part))
        self.wait_all_answered(n)
        for w in members:
            exits.append(w.terminate())
        self.assertEqual(exits, [0] * len(exits), self.logs())
        lost, duplicates = self.check_output(n, mode == "exactly-once")
        self.record(f"cooperative-sticky, members join and leave under load, {mode}", requests=n, lost=lost,
                    duplicates=duplicates, joins=4, leaves=2)
        self.close_workers()

    def test_cooperative_rebalancing_at_least_once(self):
        for run in range(REPEATS):
            self.cooperative_members_join_and_leave("at-least-once")

    def test_cooperative_rebalancing_exactly_once(self):
        for run in range(REPEATS):
            self.cooperative_members_join_and_leave("exactly-once")

    def test_memory_stays_bounded_when_the_output_is_slow(self):
        # A backlog of 40 times --max-in-flight requests of 8 KB each, and a response topic throttled
        # by a producer byte-rate quota on salvo's client id: consumption must pause, so the worker's
        # memory grows by what is in flight and by librdkafka's fetch buffers (made small here, so
        # that the bound is tight), not by the backlog.
        max_in_flight = 250
        n = 40 * max_in_flight
        buffers = {"queued.max.messages.kbytes": 4096, "fetch.max.bytes": 2 << 20,
                   "max.partition.fetch.bytes": 512 << 10}
        if FETCH_BUFFERS == "default":  # by hand: librdkafka's defaults, measured and reported only
            buffers = {}
        text = ("Debian package description words for the memory test " * 160)[:8000]
        requests = [json.dumps({"id": i, "text": f"{i} {text}"}).encode() for i in range(n)]
        warm_up = [json.dumps({"id": f"warm-up {i}", "text": text}).encode() for i in range(2 * max_in_flight)]
        backlog_mib = sum(map(len, requests)) / 2**20
        self.fresh_topics(partitions=4)
        w = self.worker("--max-length", "64", "--max-in-flight", str(max_in_flight),
                        *itertools.chain.from_iterable(("-X", f"{k}={v}") for k, v in buffers.items()),
                        stats_interval_ms=250)
        # Warm up at full speed (model buffers, librdkafka's queues), then measure from there.
        produce(self.cluster, self.IN, warm_up)
        self.assertTrue(wait_for(lambda: last_stats(w).get("responses", 0) >= len(warm_up), 120, 0.2), self.logs())
        baseline = w.memory_kib()[0]
        self.cluster.set_client_quota("salvo-stream", producer_byte_rate=40000)
        try:
            produce(self.cluster, self.IN, requests)
            samples = []
            deadline = time.time() + 15
            while time.time() < deadline:
                samples.append(w.memory_kib()[0])
                time.sleep(0.2)
            throttled = last_stats(w)
        finally:
            self.cluster.set_client_quota("salvo-stream", producer_byte_rate=None)
        self.assertLess(throttled["responses"] - len(warm_up), n // 4, "the quota slowed the output")
        self.assertTrue(wait_for(lambda: last_stats(w).get("responses", 0) >= n + len(warm_up), 300, 0.5),
                        self.logs())
        peak = w.memory_kib()[1]
        self.assertEqual(w.terminate(), 0, self.logs())
        in_flight = max(s["requests"] - s["responses"] - s["errors"] for s in w.stats())
        ids = collections.Counter(json.loads(m["payload"])["id"] for m in consume(self.cluster, self.OUT))
        lost = len(set(range(n)) - set(ids))
        self.assertEqual(lost, 0)
        growth_mib = (peak - baseline) / 1024
        # What may be held, twice over for the allocator: the in-flight requests and responses (8 KB
        # and 2.5 KB), librdkafka's queue and one fetch response; plus 16 MB of heap slack.
        bound_mib = 2 * (max_in_flight * (8192 + 2560) + buffers.get("queued.max.messages.kbytes", 0) * 1024 +
                         buffers.get("fetch.max.bytes", 0)) / 2**20 + 16
        self.record("backpressure: output throttled by a quota, backlog 40x --max-in-flight", requests=n,
                    librdkafka_buffers=buffers or "default",
                    lost=lost, duplicates=sum(ids.values()) - len(ids), backlog_mib=round(backlog_mib, 1),
                    max_in_flight=max_in_flight, peak_in_flight=in_flight,
                    baseline_rss_mib=round(baseline / 1024, 1), peak_rss_mib=round(peak / 1024, 1),
                    throttled_rss_mib=round(max(samples) / 1024, 1), growth_bound_mib=round(bound_mib, 1))
        self.assertLessEqual(in_flight, max_in_flight, "consumption paused at --max-in-flight")
        if not buffers:
            return
        self.assertLess(growth_mib, bound_mib)
        self.assertLess(bound_mib, backlog_mib / 2, "the bound is well below the backlog, so it means something")


class ThreeBrokerFaults(RealClusterTest):
    """Three broker+controller nodes, replication factor 3, min.insync.replicas 2."""

    nodes = 3

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cluster.create_internal_topics()

    def kill_and_restart_a_broker(self, mode):
        """Two workers; the broker that coordinates their group (and, with exactly-once, their
        transactions) is killed with kill -9 at 30% of the load and started again 10 s later."""
        n = REQUESTS
        self.fresh_topics()
        victim = self.cluster.coordinator(self.group)
        # librdkafka's default session timeout (45 s) instead of the harness's 6 s: no worker dies
        # here, and with 6 s the members' sessions expire during the coordinator's failover, so
        # everything since the last commit is redone (at-least-once: ~2000 duplicates of 3000).
        args = FAST + ["-X", "session.timeout.ms=45000", "-X", "heartbeat.interval.ms=3000"]
        if mode == "exactly-once":
            # Transactional ids whose coordinator is the victim too (salvo's default id is random).
            ids = (f"{self.group}-{i}" for i in range(200))
            chosen = list(itertools.islice(
                (t for t in ids if self.cluster.coordinator(t, "__transaction_state") == victim), 2))
            self.assertEqual(len(chosen), 2, "transactional ids coordinated by the victim")
            # librdkafka's default transaction timeout (60 s): a transaction open across the outage
            # must not time out on the coordinator, or librdkafka 2.0.2 fails its abort fatally
            # (INVALID_TXN_STATE) and the worker exits (code 3) instead of carrying on.
            args += ["--exactly-once"]
        workers = [self.worker(*args, *(["-X", f"transactional.id={chosen[k]}"] if mode == "exactly-once" else []))
                   for k in range(2)]
        self.wait_consuming(workers)
        produce(self.cluster, self.IN, numbered_requests(n))
        self.wait_progress(int(0.3 * n))
        self.cluster.kill(victim)
        killed = time.time()
        before = self.progress()
        time.sleep(10)
        during = self.progress() - before
        down_s = time.time() - killed
        self.cluster.restart(victim)
        self.wait_all_answered(n)
        codes = [w.terminate() for w in workers]
        self.assertEqual(codes, [0, 0], self.logs())
        lost, duplicates = self.check_output(n, mode == "exactly-once")
        self.record(f"3 brokers, kill -9 of the coordinator broker and restart, {mode}", requests=n,
                    lost=lost, duplicates=duplicates, killed_node=victim,
                    records_written_while_down=during, down_s=round(down_s, 1),
                    aborted=sum(exit_stats(w)["aborted_transactions"] for w in workers),
                    retries=sum(exit_stats(w)["retries"] for w in workers))
        self.close_workers()

    def test_broker_kill_9_and_restart_at_least_once(self):
        for run in range(REPEATS):
            self.kill_and_restart_a_broker("at-least-once")

    def test_broker_kill_9_and_restart_exactly_once(self):
        for run in range(REPEATS):
            self.kill_and_restart_a_broker("exactly-once")


if __name__ == "__main__":
    unittest.main()
