"""A real Apache Kafka cluster (KRaft) for the stream tests.

Each node is one JVM (`kafka.Kafka`) that is both broker and controller, listening on free
localhost ports, with its data and logs in a temporary folder that is removed on exit. The jars come
from scripts/fetch-kafka.sh ($SALVO_KAFKA_HOME, default build/kafka-dist). Topics and configs are
managed with confluent-kafka's AdminClient; client quotas with Kafka's own ConfigCommand.

    cluster = KafkaCluster(nodes=3)           # formats, starts, waits until every broker is up
    cluster.create_topics({"in": 4, "out": 2})  # waits until every partition has its full ISR
    cluster.kill(2); cluster.restart(2)        # kill -9 and start again on the same data
    cluster.stop()                             # also run at exit, and when the test process dies
"""
import atexit
import base64
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from confluent_kafka import KafkaException
from confluent_kafka.admin import (AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, NewTopic,
                                   ResourceType)

from kafka_harness import ROOT, die_with_parent

KAFKA_HOME = os.environ.get("SALVO_KAFKA_HOME", os.path.join(ROOT, "build", "kafka-dist"))
JAVA = os.environ.get("JAVA", shutil.which("java") or "java")
# Small heaps and few JIT/GC threads: CI has 2 cores and shares its memory with other tests.
JVM_OPTIONS = ["-Xmx" + os.environ.get("SALVO_KAFKA_HEAP", "256m"), "-Xms64m", "-XX:+UseSerialGC",
               "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"]

LOG4J2 = """status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = {log}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
"""


def classpath():
    if not glob.glob(os.path.join(KAFKA_HOME, "kafka_2.13-*.jar")):
        raise RuntimeError(f"no Apache Kafka jars in {KAFKA_HOME}: run scripts/install-deps.sh test "
                           "(or scripts/fetch-kafka.sh)")
    return os.path.join(KAFKA_HOME, "*")


def free_ports(n):
    sockets = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def _exit_on_sigterm():
    """A SIGTERM (ctest's timeout) ends the process through sys.exit, so atexit handlers run."""
    if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))


class Node:
    """One broker+controller JVM."""

    def __init__(self, folder, node_id, port, controller_port):
        self.id = node_id
        self.port = port
        self.controller_port = controller_port
        self.folder = os.path.join(folder, f"node{node_id}")
        self.properties = os.path.join(self.folder, "server.properties")
        self.log = os.path.join(self.folder, "server.log")
        self.proc = None
        os.makedirs(self.folder)
        with open(os.path.join(self.folder, "log4j2.properties"), "w") as f:
            f.write(LOG4J2.format(log=self.log))

    def java(self, main, *args):
        return [JAVA, *JVM_OPTIONS, f"-Dlog4j2.configurationFile={self.folder}/log4j2.properties",
                "-cp", classpath(), main, *args]

    def start(self):
        out = open(os.path.join(self.folder, "stdout.log"), "ab")
        self.proc = subprocess.Popen(self.java("kafka.Kafka", self.properties), stdin=subprocess.DEVNULL,
                                     stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent)
        out.close()

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.running():
            self.proc.kill()
        if self.proc is not None:
            self.proc.wait()

    def log_tail(self, lines=40):
        text = ""
        for name in ("stdout.log", "server.log"):
            path = os.path.join(self.folder, name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    text += f"--- node {self.id} {name}\n" + "".join(f.readlines()[-lines:])
        return text


class KafkaCluster:
    """`nodes` combined broker+controller nodes. Replication factor min(3, nodes) and
    min.insync.replicas min(2, nodes) for every topic, the internal ones included."""

    def __init__(self, nodes=1, broker_config=None):
        _exit_on_sigterm()
        self.folder = tempfile.mkdtemp(prefix="salvo-kafka-")
        self.nodes = {}
        self._admin = None
        atexit.register(self.stop)
        try:
            ports = free_ports(2 * nodes)
            for i in range(nodes):
                node = Node(self.folder, i + 1, ports[2 * i], ports[2 * i + 1])
                self.nodes[node.id] = node
            self.replication = min(3, nodes)
            self.min_insync = min(2, nodes)
            self.bootstrap = ",".join(f"127.0.0.1:{n.port}" for n in self.nodes.values())
            voters = ",".join(f"{n.id}@127.0.0.1:{n.controller_port}" for n in self.nodes.values())
            for node in self.nodes.values():
                self._write_properties(node, voters, broker_config or {})
            self._format()
            for node in self.nodes.values():
                node.start()
            self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def _write_properties(self, node, voters, extra):
        config = {
            "process.roles": "broker,controller",
            "node.id": node.id,
            "controller.quorum.voters": voters,
            "listeners": f"PLAINTEXT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{node.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": os.path.join(node.folder, "data"),
            "auto.create.topics.enable": "false",
            "default.replication.factor": self.replication,
            "min.insync.replicas": self.min_insync,
            "offsets.topic.replication.factor": self.replication,
            "offsets.topic.num.partitions": 4,
            "transaction.state.log.replication.factor": self.replication,
            "transaction.state.log.min.isr": self.min_insync,
            "transaction.state.log.num.partitions": 4,
            "group.initial.rebalance.delay.ms": 0,
            # A dead client's open transaction is aborted within a second of its timeout.
            "transaction.abort.timed.out.transaction.cleanup.interval.ms": 1000,
            # A killed broker is fenced and leaves the ISRs within seconds, not half a minute.
            "broker.session.timeout.ms": 6000,
            "broker.heartbeat.interval.ms": 1000,
            "replica.lag.time.max.ms": 10000,
            # Few threads and a small log-cleaner buffer (128 MB by default, on a 256 MB heap).
            "num.network.threads": 2,
            "num.io.threads": 2,
            "num.replica.fetchers": 1,
            "background.threads": 2,
            "log.cleaner.threads": 1,
            "log.cleaner.dedupe.buffer.size": 8 << 20,
        }
        config.update(extra)
        with open(node.properties, "w") as f:
            for key, value in config.items():
                f.write(f"{key}={value}\n")

    def _format(self):
        cluster_id = "-"
        while cluster_id.startswith("-"):  # as Kafka's Uuid.randomUuid: not taken for an option
            cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
        procs = [(n, subprocess.Popen(n.java("kafka.tools.StorageTool", "format", "--cluster-id", cluster_id,
                                             "--config", n.properties),
                                      stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=die_with_parent))
                 for n in self.nodes.values()]
        for node, proc in procs:
            out = proc.communicate(timeout=120)[0].decode(errors="replace")
            if proc.returncode != 0:
                raise RuntimeError(f"formatting node {node.id} failed:\n{out}")

    # --- state ---

    def admin(self):
        if self._admin is None:
            self._admin = AdminClient({"bootstrap.servers": self.bootstrap, "log_level": 0})
        return self._admin

    def _check_alive(self, expected):
        for node in expected:
            if not node.running():
                raise RuntimeError(f"Kafka node {node.id} exited ({node.proc.returncode}):\n{node.log_tail()}")

    def wait_ready(self, timeout=120):
        """Until every running node is a broker in the cluster's metadata, and every partition of
        every topic (internal ones included) has a leader and its full ISR."""
        expected = [n for n in self.nodes.values() if n.running()]
        deadline = time.time() + timeout
        while True:
            self._check_alive(expected)
            try:
                md = self.admin().list_topics(timeout=5)
                if {b.id for b in md.brokers.values()} >= {n.id for n in expected} and \
                        self._replicated(md, len(expected)):
                    return
            except KafkaException:
                pass
            if time.time() > deadline:
                raise RuntimeError("Kafka cluster not ready in time:\n" +
                                   "".join(n.log_tail() for n in expected))
            time.sleep(0.3)

    def _replicated(self, md, alive, topics=None):
        for name, topic in md.topics.items():
            if topics is not None and name not in topics:
                continue
            if topic.error is not None or not topic.partitions:
                return False
            for p in topic.partitions.values():
                if p.leader < 0 or len(p.isrs) < min(len(p.replicas), alive):
                    return False
        return True

    def create_topics(self, topics, config=None):
        """topics: {name: partitions}; config: {name: {key: value}}. Returns when every partition has
        a leader and a full ISR."""
        config = config or {}
        futures = self.admin().create_topics(
            [NewTopic(name, partitions, self.replication, config=config.get(name, {}))
             for name, partitions in topics.items()], operation_timeout=30)
        for future in futures.values():
            future.result(timeout=60)
        deadline = time.time() + 60
        while True:
            md = self.admin().list_topics(timeout=5)
            if all(name in md.topics and len(md.topics[name].partitions) == n for name, n in topics.items()) \
                    and self._replicated(md, self.replication, set(topics)):
                return
            if time.time() > deadline:
                raise RuntimeError(f"topics {sorted(topics)} not ready in time")
            time.sleep(0.2)

    def set_topic_config(self, topic, settings):
        """Sets topic configs ({"max.message.bytes": 1000}); returns when the broker reports the new
        values."""
        entries = [ConfigEntry(key, str(value), incremental_operation=AlterConfigOpType.SET)
                   for key, value in settings.items()]
        resource = ConfigResource(ResourceType.TOPIC, topic, incremental_configs=entries)
        for future in self.admin().incremental_alter_configs([resource]).values():
            future.result(timeout=30)
        deadline = time.time() + 30
        while time.time() < deadline:
            described = list(self.admin().describe_configs([ConfigResource(ResourceType.TOPIC, topic)])
                             .values())[0].result(timeout=30)
            if all(described[e.name].value == e.value for e in entries):
                return
            time.sleep(0.2)
        raise RuntimeError(f"topic {topic}: {settings} not applied in time")

    def set_client_quota(self, client_id, **quotas):
        """Sets (value) or removes (None) client quotas, e.g. producer_byte_rate=20000, with Kafka's
        ConfigCommand (librdkafka has no quota API)."""
        add = ",".join(f"{k}={v}" for k, v in quotas.items() if v is not None)
        delete = ",".join(k for k, v in quotas.items() if v is None)
        args = ["--bootstrap-server", self.bootstrap, "--alter", "--entity-type", "clients",
                "--entity-name", client_id]
        if add:
            args += ["--add-config", add]
        if delete:
            args += ["--delete-config", delete]
        node = next(iter(self.nodes.values()))
        out = subprocess.run(node.java("org.apache.kafka.tools.ConfigCommand", *args), capture_output=True,
                             text=True, timeout=120, preexec_fn=die_with_parent)
        if out.returncode != 0:
            raise RuntimeError(f"ConfigCommand {args}: {out.stdout}{out.stderr}")

    def create_internal_topics(self):
        """Creates __consumer_offsets and __transaction_state (Kafka makes them on first use) and
        waits until they are fully replicated, so that coordinators can be looked up."""
        from confluent_kafka import Consumer, Producer, TopicPartition
        producer = Producer({"bootstrap.servers": self.bootstrap, "transactional.id": "salvo-harness",
                             "log_level": 0})
        producer.init_transactions(120)
        producer.flush(10)
        del producer
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "salvo-harness", "log_level": 0})
        deadline = time.time() + 120
        while True:
            try:
                consumer.committed([TopicPartition("salvo-harness", 0)], timeout=30)
                break
            except KafkaException:  # NOT_COORDINATOR while __consumer_offsets is being created
                if time.time() > deadline:
                    raise
                time.sleep(0.5)
        consumer.close()
        self.wait_ready()

    def coordinator(self, key, internal_topic="__consumer_offsets"):
        """The node id coordinating a group (__consumer_offsets) or a transactional id
        (__transaction_state): the leader of the partition Kafka picks for it, which is
        abs(Java's String.hashCode(key)) % partitions."""
        h = 0
        for unit in key.encode("utf-16-be").hex(" ", 2).split():
            h = (31 * h + int(unit, 16)) & 0xFFFFFFFF
        h = h - (1 << 32) if h >= 1 << 31 else h
        h = 0 if h == -(1 << 31) else abs(h)
        topic = self.admin().list_topics(internal_topic, timeout=10).topics[internal_topic]
        return topic.partitions[h % len(topic.partitions)].leader

    def high_watermarks(self, topic):
        """Sum over the partitions of `topic` of the next offset (aborted and control records
        included): a cheap measure of progress. None while a partition has no leader."""
        from confluent_kafka import Consumer, TopicPartition
        md = self.admin().list_topics(topic, timeout=10)
        consumer = Consumer({"bootstrap.servers": self.bootstrap, "group.id": "salvo-watermarks",
                             "enable.auto.commit": False, "log_level": 0})
        try:
            return sum(consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=5)[1]
                       for p in md.topics[topic].partitions)
        except KafkaException:
            return None
        finally:
            consumer.close()

    # --- faults ---

    def kill(self, node_id):
        """kill -9 of one node."""
        self.nodes[node_id].kill()

    def restart(self, node_id, wait=True):
        """Starts a stopped node again on its data; waits until it is back in every ISR."""
        node = self.nodes[node_id]
        node.start()
        if not wait:
            return
        # Until the node itself answers (the cluster's metadata may not have noticed it was gone).
        deadline = time.time() + 120
        while True:
            self._check_alive([node])
            try:
                # A new client each time: its first request goes to its only bootstrap broker.
                AdminClient({"bootstrap.servers": f"127.0.0.1:{node.port}", "log_level": 0}).list_topics(timeout=2)
                break
            except KafkaException:
                pass
            if time.time() > deadline:
                raise RuntimeError(f"Kafka node {node.id} did not come back:\n{node.log_tail()}")
            time.sleep(0.3)
        self.wait_ready()

    def heal(self):
        """Restarts every node that is down (after a failed test)."""
        for node_id, node in self.nodes.items():
            if not node.running():
                self.restart(node_id)

    def log_tail(self, lines=40):
        return "".join(n.log_tail(lines) for n in self.nodes.values())

    def stop(self):
        # The admin client goes first: librdkafka 2.16's destroy can hang once its brokers are gone.
        self._admin = None
        for node in self.nodes.values():
            node.kill()
        self.nodes = {}
        if os.environ.get("SALVO_KAFKA_KEEP"):
            print(f"kept the Kafka folder {self.folder}", file=sys.stderr)
        else:
            shutil.rmtree(self.folder, ignore_errors=True)
