"""confluent-kafka-python (librdkafka) transactional producer and read_committed consumer against
Partita. Each command prints one JSON line on stdout.

Usage: confluent_txn.py <command> <bootstrap> <args...>
  produce <topic> <transactional-id> <txns-json>   txns-json: [{"values": [...], "commit": bool}, ...]
  read <topic> <isolation-level>                   every partition from the start to its end; prints values
  fence <topic> <transactional-id>                 a second producer fences the first mid-transaction
  abandon <topic> <transactional-id> <timeout-ms>  opens a transaction, writes, flushes, and exits without ending it
"""
import json
import os
import sys
import time

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

DEADLINE_S = 30


def transactional(bootstrap, txn_id, extra=None):
    config = {"bootstrap.servers": bootstrap, "transactional.id": txn_id}
    config.update(extra or {})
    return Producer(config)


def produce(bootstrap, topic, txn_id, txns_json):
    producer = transactional(bootstrap, txn_id)
    producer.init_transactions(DEADLINE_S)
    for txn in json.loads(txns_json):
        producer.begin_transaction()
        for value in txn["values"]:
            producer.produce(topic, value=value.encode())
        if txn["commit"]:
            producer.commit_transaction(DEADLINE_S)
        else:
            # Written first, so the abort has records to abort (librdkafka drops unsent ones).
            producer.flush(DEADLINE_S)
            producer.abort_transaction(DEADLINE_S)
    print(json.dumps({"ok": True}))


def read(bootstrap, topic, isolation):
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": "txn-reader-%d" % os.getpid(),
        "isolation.level": isolation,
        "enable.partition.eof": True,
        "enable.auto.commit": False,
    })
    partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
    consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
    values = []
    at_eof = set()
    deadline = time.time() + DEADLINE_S
    while len(at_eof) < len(partitions) and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        if msg.error() is not None:
            if msg.error().code() == -191:  # _PARTITION_EOF
                at_eof.add(msg.partition())
            continue
        at_eof.discard(msg.partition())
        values.append(msg.value().decode())
    consumer.close()
    print(json.dumps({"values": values, "complete": len(at_eof) == len(partitions)}))


def fence(bootstrap, topic, txn_id):
    first = transactional(bootstrap, txn_id)
    first.init_transactions(DEADLINE_S)
    first.begin_transaction()
    first.produce(topic, value=b"zombie-1")
    first.flush(DEADLINE_S)
    second = transactional(bootstrap, txn_id)
    second.init_transactions(DEADLINE_S)
    errors = []
    try:
        first.produce(topic, value=b"zombie-2")
        first.commit_transaction(DEADLINE_S)
    except KafkaException as e:
        err = e.args[0]
        errors.append({"name": err.name(), "fatal": err.fatal()})
    second.begin_transaction()
    second.produce(topic, value=b"winner")
    second.commit_transaction(DEADLINE_S)
    print(json.dumps({"errors": errors}))


def abandon(bootstrap, topic, txn_id, timeout_ms):
    producer = transactional(bootstrap, txn_id, {"transaction.timeout.ms": int(timeout_ms)})
    producer.init_transactions(DEADLINE_S)
    producer.begin_transaction()
    producer.produce(topic, value=b"abandoned")
    producer.flush(DEADLINE_S)
    print(json.dumps({"ok": True}))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    command, bootstrap, *args = sys.argv[1:]
    {"produce": produce, "read": read, "fence": fence, "abandon": abandon}[command](bootstrap, *args)
