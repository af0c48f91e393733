"""kafka-python 2.0.2 against Partita, with kafka-python's default settings (no api_version: the
client detects it from our ApiVersions answer). Each command prints one JSON line on stdout.

Usage: kafka_python_client.py <command> <bootstrap> <args...>
  produce <topic> <count> <keys>          keyed sends; prints each record's key, partition, offset
  consume <topic> <group> <count>         group consumer from earliest; commits; prints records
  metadata <topic>                        prints the detected api_version, topics, partitions
  offsets-for-times <topic> <ts>...       prints offsets_for_times, beginning and end offsets
  group-split <topic> <group>             two members split partitions, one leaves (see below)
  produce-acks0-close <topic> <count>     acks=0 sends, then close at once (no wait for the broker)
"""
import json
import sys
import threading
import time

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

DEADLINE_S = 30


def produce(bootstrap, topic, count, keys):
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    out = []
    for i in range(int(count)):
        key = "key-%d" % (i % int(keys))
        meta = producer.send(topic, key=key.encode(), value=("%s#%d" % (key, i)).encode()).get(timeout=20)
        out.append({"key": key, "partition": meta.partition, "offset": meta.offset})
    producer.close()
    print(json.dumps({"records": out, "api_version": list(producer.config["api_version"])}))


def consume(bootstrap, topic, group, count):
    consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest")
    records = []
    deadline = time.time() + DEADLINE_S
    while len(records) < int(count) and time.time() < deadline:
        for tp, batch in consumer.poll(timeout_ms=500).items():
            for m in batch:
                records.append({"partition": tp.partition, "offset": m.offset, "key": m.key.decode() if m.key else None,
                                "value": m.value.decode() if m.value else None})
    consumer.commit()
    consumer.close()
    print(json.dumps({"records": records}))


def metadata(bootstrap, topic):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    topics = sorted(consumer.topics())
    partitions = sorted(consumer.partitions_for_topic(topic) or [])
    brokers = [{"id": b.nodeId, "host": b.host, "port": b.port} for b in consumer._client.cluster.brokers()]
    print(json.dumps({"api_version": list(consumer.config["api_version"]), "topics": topics, "partitions": partitions,
                      "brokers": brokers}))
    consumer.close()


def offsets_for_times(bootstrap, topic, *timestamps):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap)
    tp = TopicPartition(topic, 0)
    found = []
    for ts in timestamps:
        answer = consumer.offsets_for_times({tp: int(ts)})[tp]
        found.append(None if answer is None else {"offset": answer.offset, "timestamp": answer.timestamp})
    print(json.dumps({"found": found, "beginning": consumer.beginning_offsets([tp])[tp],
                      "end": consumer.end_offsets([tp])[tp]}))
    consumer.close()


class Member(threading.Thread):
    """One group member polling in its own thread (kafka-python consumers are not shared across threads)."""

    def __init__(self, bootstrap, topic, group):
        super().__init__(daemon=True)
        self.consumer = KafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group, auto_offset_reset="earliest")
        self.assignment = []
        self.received = []
        self.stopping = False
        self.stopped = threading.Event()

    def run(self):
        while not self.stopping:
            for tp, batch in self.consumer.poll(timeout_ms=200).items():
                self.received.extend({"partition": tp.partition, "value": m.value.decode()} for m in batch)
            self.assignment = sorted(tp.partition for tp in self.consumer.assignment())
        self.consumer.close()
        self.stopped.set()

    def stop(self):
        self.stopping = True
        self.stopped.wait(DEADLINE_S)


def wait_for(condition, what):
    deadline = time.time() + DEADLINE_S
    while not condition():
        if time.time() > deadline:
            raise RuntimeError("timed out waiting for " + what)
        time.sleep(0.05)


def group_split(bootstrap, topic, group):
    """A owns all 4 partitions; B joins and they split 2+2; one message per partition reaches its
    owner; B leaves; A owns all 4 again and gets the next message of each partition."""
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    a = Member(bootstrap, topic, group)
    a.start()
    wait_for(lambda: len(a.assignment) == 4, "A owning all partitions")
    b = Member(bootstrap, topic, group)
    b.start()
    wait_for(lambda: len(a.assignment) == 2 and len(b.assignment) == 2, "a 2+2 split")
    split = [a.assignment, b.assignment]
    for p in range(4):
        producer.send(topic, value=("first-%d" % p).encode(), partition=p).get(timeout=20)
    wait_for(lambda: len(a.received) + len(b.received) >= 4, "the first messages")
    first = [sorted(r["partition"] for r in a.received), sorted(r["partition"] for r in b.received)]
    b.stop()
    wait_for(lambda: len(a.assignment) == 4, "A owning all partitions after B left")
    for p in range(4):
        producer.send(topic, value=("second-%d" % p).encode(), partition=p).get(timeout=20)
    wait_for(lambda: len([r for r in a.received if r["value"].startswith("second")]) >= 4, "the second messages")
    second = sorted(r["partition"] for r in a.received if r["value"].startswith("second"))
    a.stop()
    producer.close()
    print(json.dumps({"split": split, "first": first, "after": a.assignment, "second": second,
                      "duplicates": len(a.received) + len(b.received) - 8}))


def produce_acks0_close(bootstrap, topic, count):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks=0, linger_ms=0, batch_size=1024)
    for i in range(int(count)):
        producer.send(topic, value=("v%d" % i).encode())
    # close() flushes into the socket and closes it: nothing waits for the broker to read.
    producer.close()
    print(json.dumps({"sent": int(count)}))


COMMANDS = {"produce-acks0-close": produce_acks0_close, "produce": produce, "consume": consume, "metadata": metadata, "offsets-for-times": offsets_for_times,
            "group-split": group_split}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
