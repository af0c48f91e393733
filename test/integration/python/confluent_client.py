"""confluent-kafka-python (librdkafka 2.0.2) against Partita, with librdkafka's default settings
plus what each command names. Each command prints one JSON line on stdout.

Usage: confluent_client.py <command> <bootstrap> <args...>
  produce <topic> <count> <keys> <config-json>   keyed sends; prints each delivery report
  consume <topic> <group> <count>                group consumer from earliest; commits; prints records
  metadata                                       prints brokers and topics with their partitions
  group-split <topic> <group>                    two members split partitions, one leaves
  admin-lifecycle <topic> <partitions> <rf>      AdminClient creates, describes and deletes a topic
  produce-paced <topic> <count> <per-second>     idempotent acks=all sends of "0".."count-1", paced
  consume-all <topic> <group> <count> <seconds>  group consumer until it has seen count distinct values
  produce-acked <topic> <per-second> <keys>      idempotent acks=all sends of "0", "1", ... (key: value % keys)
                                                 until stdin closes; one line per acknowledged record
  consume-group <topic> <group> <session-ms>     group consumer until stdin closes; one line per record
                                                 and per assignment
"""
import json
import os
import sys
import threading
import time

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

DEADLINE_S = 30


def produce(bootstrap, topic, count, keys, config_json="{}"):
    config = {"bootstrap.servers": bootstrap}
    config.update(json.loads(config_json))
    producer = Producer(config)
    reports = []
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err.str())
        else:
            reports.append({"key": msg.key().decode(), "partition": msg.partition(), "offset": msg.offset()})

    for i in range(int(count)):
        key = "key-%d" % (i % int(keys))
        producer.produce(topic, key=key.encode(), value=("%s#%d" % (key, i)).encode(), on_delivery=on_delivery)
    left = producer.flush(DEADLINE_S)
    print(json.dumps({"reports": reports, "errors": errors, "undelivered": left}))


def consumer_config(bootstrap, group):
    return {"bootstrap.servers": bootstrap, "group.id": group, "auto.offset.reset": "earliest"}


def consume(bootstrap, topic, group, count):
    consumer = Consumer(consumer_config(bootstrap, group))
    consumer.subscribe([topic])
    records = []
    errors = []
    deadline = time.time() + DEADLINE_S
    while len(records) < int(count) and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error() is not None:
            errors.append(msg.error().str())
            continue
        records.append({"partition": msg.partition(), "offset": msg.offset(),
                        "key": msg.key().decode() if msg.key() else None, "value": msg.value().decode()})
    if records:
        consumer.commit(asynchronous=False)
    consumer.close()
    print(json.dumps({"records": records, "errors": errors}))


def metadata(bootstrap):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    md = admin.list_topics(timeout=10)
    brokers = [{"id": b.id, "host": b.host, "port": b.port} for b in md.brokers.values()]
    topics = {name: sorted(t.partitions.keys()) for name, t in md.topics.items()}
    print(json.dumps({"brokers": brokers, "controller": md.controller_id, "topics": topics}))


class Member(threading.Thread):
    """One group member polling in its own thread."""

    def __init__(self, bootstrap, topic, group):
        super().__init__(daemon=True)
        self.consumer = Consumer(consumer_config(bootstrap, group))
        self.consumer.subscribe([topic])
        self.assignment = []
        self.received = []
        self.stopping = False
        self.stopped = threading.Event()

    def run(self):
        while not self.stopping:
            msg = self.consumer.poll(0.2)
            if msg is not None and msg.error() is None:
                self.received.append({"partition": msg.partition(), "value": msg.value().decode()})
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
    producer = Producer({"bootstrap.servers": bootstrap})
    a = Member(bootstrap, topic, group)
    a.start()
    wait_for(lambda: len(a.assignment) == 4, "A owning all partitions")
    b = Member(bootstrap, topic, group)
    b.start()
    wait_for(lambda: len(a.assignment) == 2 and len(b.assignment) == 2, "a 2+2 split")
    split = [a.assignment, b.assignment]
    for p in range(4):
        producer.produce(topic, value=("first-%d" % p).encode(), partition=p)
    producer.flush(DEADLINE_S)
    wait_for(lambda: len(a.received) + len(b.received) >= 4, "the first messages")
    first = [sorted(r["partition"] for r in a.received), sorted(r["partition"] for r in b.received)]
    b.stop()
    wait_for(lambda: len(a.assignment) == 4, "A owning all partitions after B left")
    for p in range(4):
        producer.produce(topic, value=("second-%d" % p).encode(), partition=p)
    producer.flush(DEADLINE_S)
    wait_for(lambda: len([r for r in a.received if r["value"].startswith("second")]) >= 4, "the second messages")
    second = sorted(r["partition"] for r in a.received if r["value"].startswith("second"))
    a.stop()
    print(json.dumps({"split": split, "first": first, "after": a.assignment, "second": second,
                      "duplicates": len(a.received) + len(b.received) - 8}))


def admin_lifecycle(bootstrap, topic, partitions, rf):
    from confluent_kafka.admin import NewTopic
    admin = AdminClient({"bootstrap.servers": bootstrap})
    for name, future in admin.create_topics([NewTopic(topic, int(partitions), int(rf))], request_timeout=15).items():
        future.result(DEADLINE_S)
    described = admin.list_topics(topic, timeout=10).topics[topic]
    replicas = {str(p.id): sorted(p.replicas) for p in described.partitions.values()}
    isrs = {str(p.id): sorted(p.isrs) for p in described.partitions.values()}
    for name, future in admin.delete_topics([topic], request_timeout=15).items():
        future.result(DEADLINE_S)
    wait_for(lambda: topic not in admin.list_topics(timeout=10).topics, "the topic to be gone")
    print(json.dumps({"replicas": replicas, "isrs": isrs, "controller": described.error is None}))


def produce_paced(bootstrap, topic, count, per_second):
    """An idempotent acks=all producer with librdkafka's retries: every value must land once."""
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    delivered = []
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err.str())
        else:
            delivered.append(int(msg.value().decode()))

    interval = 1.0 / float(per_second)
    start = time.time()
    for i in range(int(count)):
        while True:
            try:
                producer.produce(topic, value=str(i).encode(), on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
        lag = start + (i + 1) * interval - time.time()
        if lag > 0:
            time.sleep(lag)
    left = producer.flush(60)
    print(json.dumps({"delivered": len(delivered), "distinct": len(set(delivered)), "errors": errors[:5], "undelivered": left}))


def consume_all(bootstrap, topic, group, count, seconds):
    consumer = Consumer(consumer_config(bootstrap, group))
    consumer.subscribe([topic])
    seen = set()
    received = 0
    errors = []
    deadline = time.time() + float(seconds)
    while len(seen) < int(count) and time.time() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            errors.append(msg.error().str())
            continue
        received += 1
        seen.add(int(msg.value().decode()))
    consumer.close()
    print(json.dumps({"distinct": len(seen), "received": received, "errors": errors[:5]}))


def emit(obj):
    sys.stdout.write(json.dumps(obj, separators=(",", ":")) + "\n")
    sys.stdout.flush()


def stdin_closed_flag():
    """Set once stdin reaches its end: the launcher's way to say "stop", which no signal can lose."""
    closed = threading.Event()

    def watch():
        while os.read(0, 4096):
            pass
        closed.set()

    threading.Thread(target=watch, daemon=True).start()
    return closed


def produce_acked(bootstrap, topic, per_second, keys):
    """Every acknowledged record is printed as it is acknowledged, so a checker knows what the
    broker promised even when this process is stopped later. librdkafka retries across broker
    restarts; message.timeout.ms is long so that no record is given up while a broker restarts."""
    stop = stdin_closed_flag()
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all",
                         "linger.ms": 5, "message.timeout.ms": 120000, "reconnect.backoff.max.ms": 500})
    errors = []

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err.str())
        else:
            emit({"v": int(msg.value().decode()), "p": msg.partition(), "o": msg.offset()})

    interval = 1.0 / float(per_second)
    start = time.time()
    sent = 0
    while not stop.is_set():
        value = str(sent).encode()
        try:
            producer.produce(topic, key=("k%d" % (sent % int(keys))).encode(), value=value, on_delivery=on_delivery)
            sent += 1
        except BufferError:
            producer.poll(0.05)
            continue
        producer.poll(0)
        lag = start + sent * interval - time.time()
        if lag > 0:
            time.sleep(lag)
    left = producer.flush(150)
    emit({"done": True, "sent": sent, "undelivered": left, "errors": errors[:5], "errorCount": len(errors)})


def consume_group(bootstrap, topic, group, session_ms):
    stop = stdin_closed_flag()
    config = consumer_config(bootstrap, group)
    config.update({"session.timeout.ms": int(session_ms), "heartbeat.interval.ms": 500,
                   "reconnect.backoff.max.ms": 500, "auto.commit.interval.ms": 500})
    consumer = Consumer(config)
    assignments = []

    def on_assign(c, partitions):
        assignments.append(1)
        emit({"assigned": sorted(tp.partition for tp in partitions)})

    consumer.subscribe([topic], on_assign=on_assign)
    errors = 0
    while not stop.is_set():
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error() is not None:
            errors += 1
            continue
        emit({"v": int(msg.value().decode()), "p": msg.partition(), "o": msg.offset()})
    consumer.close()
    emit({"done": True, "assignments": len(assignments), "errors": errors})


COMMANDS = {
    "produce-acked": produce_acked,
    "consume-group": consume_group,
    "produce": produce,
    "consume": consume,
    "metadata": metadata,
    "group-split": group_split,
    "admin-lifecycle": admin_lifecycle,
    "produce-paced": produce_paced,
    "consume-all": consume_all,
}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
