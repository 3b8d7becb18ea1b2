"""Hostile messages are no poison pill for `salvo stream`: each is answered or dead-lettered and
committed, and the good messages after it on the same partition are answered.

Before the fix, a message whose id nested 100,000 levels deep crashed the worker (SIGSEGV) before
its offset was committed, so every restart consumed it again and crashed again.
"""
import json
import unittest

from kafka_harness import MockCluster, Worker, consume, headers, produce, wait_for

FAST = ["--max-length", "64"]


def request(i, text="a request about network tools"):
    return json.dumps({"id": i, "text": text}).encode()


class PoisonPillTest(unittest.TestCase):
    def setUp(self):
        # One partition: the good messages really come after the hostile ones.
        self.cluster = MockCluster({"in": 1, "out": 1, "dlq": 1})
        self.workers = []

    def tearDown(self):
        for w in self.workers:
            w.close()
        self.cluster.stop()

    def worker(self, *extra):
        w = Worker(self.cluster, extra=[*extra, *FAST])
        self.workers.append(w)
        return w

    def test_deep_huge_and_long_messages_are_answered_or_dead_lettered(self):
        deep = b'{"text":"ok","id":' + b"[" * 100000 + b"]" * 100000 + b"}"
        deep_unterminated = b'{"id":"deep","text":"x","k":' + b'[{"a":' * 25000
        values = ([request(i) for i in range(3)] +
                  [deep, deep_unterminated,
                   b'{"id":1e400,"text":"out of double range"}',
                   b'{"id":123456789012345678901234567890,"text":"big integer"}',
                   json.dumps({"id": "long", "text": "long " * 100000}).encode(),      # 500 KB
                   json.dumps({"id": "i" * 300000, "text": "long id"}).encode()] +
                  [request(i) for i in range(3, 8)])
        keys = [b"k%d" % i for i in range(len(values))]
        produce(self.cluster, "in", values, keys=keys)
        w = self.worker("--dead-letter-topic", "dlq")
        done = wait_for(lambda: len(consume(self.cluster, "out")) >= len(values) - 3 and
                        len(consume(self.cluster, "dlq")) >= 3, 180, interval=1)
        self.assertTrue(done, w.stderr()[-3000:])
        self.assertEqual(w.terminate(), 0, w.stderr()[-3000:])

        dead = consume(self.cluster, "dlq")
        reasons = {m["key"]: headers(m)["salvo.error"] for m in dead}
        self.assertEqual(sorted(reasons), ["k3", "k4", "k5"])
        self.assertEqual(reasons["k3"], "JSON nested deeper than 256 levels")
        self.assertEqual(reasons["k4"], "JSON nested deeper than 256 levels")
        self.assertRegex(reasons["k5"], "^invalid JSON: .*number overflow")  # 1e400: no double holds it
        self.assertEqual(dead[[m["key"] for m in dead].index("k3")]["payload"].encode(), deep[:900000])
        out = {m["key"]: json.loads(m["payload"]) for m in consume(self.cluster, "out")}
        self.assertEqual(sorted(out), sorted(k.decode() for i, k in enumerate(keys) if i not in (3, 4, 5)))
        for key, row in out.items():
            self.assertNotIn("error", row, key)
            self.assertEqual(len(row["embedding"]), 128)
        self.assertEqual(out["k6"]["id"], 1.2345678901234568e29)
        self.assertEqual(out["k8"]["id"], "i" * 300000)
        self.assertEqual([out[f"k{i}"]["id"] for i in (9, 10, 11, 12, 13)], [3, 4, 5, 6, 7])
        stats = [s for s in w.stats() if s["event"] == "exit"][0]
        self.assertEqual((stats["responses"], stats["errors"], stats["lag"]), (len(values) - 3, 3, 0))

        # Everything was committed: a new member of the group has nothing to consume again.
        w2 = self.worker("--dead-letter-topic", "dlq")
        self.assertTrue(wait_for(lambda: any(s["event"] == "stats" for s in w2.stats()), 60, interval=0.5),
                        w2.stderr()[-2000:])
        self.assertEqual(w2.terminate(), 0)
        stats = [s for s in w2.stats() if s["event"] == "exit"][0]
        self.assertEqual((stats["requests"], stats["lag"]), (0, 0))
        self.assertEqual(len(consume(self.cluster, "out")), len(values) - 3)


if __name__ == "__main__":
    unittest.main()
