"""Exactly-once copy with librdkafka (Debian's confluent-kafka on /usr/bin/python3), for
bench/eos.ts. Three modes, each printing one JSON line on stdout at its end:

  eos.py fill <bootstrap> <topic> <partitions> <records>
      writes <records> records round-robin over the partitions, idempotently, acks=all; each
      value is "<partition>:<sequence within the partition>".
  eos.py copy <bootstrap> <input> <output> <group> <txn_records> <transactional_id>
      the read-process-write loop: a read_committed group consumer of <input>, and a
      transactional producer writing each record to the same partition of <output>, with the
      consumed offsets sent in the same transaction (send_offsets_to_transaction), committed
      every <txn_records> records. On an abortable error the transaction is aborted and the
      consumer rewound to its committed offsets; on any other error the process exits 3 (the
      driver starts it again: init_transactions fences the old one, the group hands out the
      committed offsets). Exits 0 once its committed offsets reach the input's end.
  eos.py verify <bootstrap> <input> <output> <group> <partitions>
      reads both topics whole (read_committed) and compares them partition by partition.
"""
import json
import sys
import time

from confluent_kafka import Consumer, KafkaError, KafkaException, Producer, TopicPartition

TIMEOUT_S = 30


def out(obj):
    print(json.dumps(obj), flush=True)


def fill(bootstrap, topic, partitions, records):
    errors = []
    producer = Producer({"bootstrap.servers": bootstrap, "enable.idempotence": True, "acks": "all", "linger.ms": 5})
    seq = [0] * partitions

    def report(err, _msg):
        if err is not None:
            errors.append(str(err))

    for i in range(records):
        p = i % partitions
        while True:
            try:
                producer.produce(topic, value=f"{p}:{seq[p]}".encode(), partition=p, on_delivery=report)
                break
            except BufferError:
                producer.poll(0.01)
        seq[p] += 1
        if i % 1000 == 0:
            producer.poll(0)
    left = producer.flush(60)
    out({"mode": "fill", "records": records, "unflushed": left, "errors": errors[:5]})
    return 0 if left == 0 and not errors else 1


def end_offsets(consumer, topic, partitions):
    return [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=TIMEOUT_S)[1] for p in range(partitions)]


def copy(bootstrap, input_topic, output_topic, group, txn_records, transactional_id):
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "isolation.level": "read_committed",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 10000,
    })
    producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": transactional_id, "linger.ms": 5, "transaction.timeout.ms": 30000})
    producer.init_transactions(TIMEOUT_S)
    metadata = consumer.list_topics(input_topic, timeout=TIMEOUT_S)
    partitions = len(metadata.topics[input_topic].partitions)
    consumer.subscribe([input_topic])
    ends = end_offsets(consumer, input_topic, partitions)
    committed_txns = 0
    aborted_txns = 0
    idle_since = time.monotonic()
    # Bounded: every pass either commits a transaction or waits; the driver's timeout ends a stuck run.
    while True:
        msgs = [m for m in consumer.consume(num_messages=txn_records, timeout=1.0) if m.error() is None]
        if not msgs:
            assignment = consumer.assignment()
            if assignment and len(assignment) == partitions:
                committed = consumer.committed(assignment, timeout=TIMEOUT_S)
                if all(tp.offset >= ends[tp.partition] for tp in committed):
                    out({"mode": "copy", "done": True, "committed_txns": committed_txns, "aborted_txns": aborted_txns})
                    return 0
            if time.monotonic() - idle_since > 120:
                out({"mode": "copy", "done": False, "error": "idle for 120 s"})
                return 3
            continue
        idle_since = time.monotonic()
        try:
            producer.begin_transaction()
            for m in msgs:
                while True:
                    try:
                        producer.produce(output_topic, key=m.key(), value=m.value(), partition=m.partition())
                        break
                    except BufferError:
                        producer.poll(0.01)
            producer.send_offsets_to_transaction(consumer.position(consumer.assignment()), consumer.consumer_group_metadata(), TIMEOUT_S)
            producer.commit_transaction(TIMEOUT_S)
            committed_txns += 1
            out({"progress": committed_txns})
        except KafkaException as e:
            err = e.args[0]
            if not err.txn_requires_abort():
                out({"mode": "copy", "done": False, "error": str(err), "committed_txns": committed_txns})
                return 3
            producer.abort_transaction(TIMEOUT_S)
            aborted_txns += 1
            # Back to what the last committed transaction consumed.
            for tp in consumer.committed(consumer.assignment(), timeout=TIMEOUT_S):
                consumer.seek(TopicPartition(tp.topic, tp.partition, tp.offset if tp.offset >= 0 else 0))


def read_all(bootstrap, topic, partitions):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "eos-verify-unused", "isolation.level": "read_committed", "enable.auto.commit": False})
    ends = end_offsets(consumer, topic, partitions)
    consumer.assign([TopicPartition(topic, p, 0) for p in range(partitions)])
    values = [[] for _ in range(partitions)]
    positions = [0] * partitions
    deadline = time.monotonic() + 120
    # Bounded by the deadline; stops once every partition is read to its end.
    while any(positions[p] < ends[p] for p in range(partitions)) and time.monotonic() < deadline:
        for m in consumer.consume(num_messages=10000, timeout=1.0):
            if m.error() is not None:
                if m.error().code() != KafkaError._PARTITION_EOF:
                    raise KafkaException(m.error())
                continue
            values[m.partition()].append(m.value().decode())
            positions[m.partition()] = m.offset() + 1
        # A read_committed read ends below the end offset when the last offsets are markers.
        for p in range(partitions):
            pos = consumer.position([TopicPartition(topic, p)])[0].offset
            if pos >= 0:
                positions[p] = max(positions[p], pos)
    consumer.close()
    return values, ends


def verify(bootstrap, input_topic, output_topic, group, partitions):
    inputs, input_ends = read_all(bootstrap, input_topic, partitions)
    outputs, _ = read_all(bootstrap, output_topic, partitions)
    problems = []
    for p in range(partitions):
        if outputs[p] != inputs[p]:
            seen = set()
            dups = sum(1 for v in outputs[p] if v in seen or seen.add(v))
            missing = len(set(inputs[p]) - set(outputs[p]))
            problems.append(f"partition {p}: input {len(inputs[p])} records, output {len(outputs[p])}, {missing} missing, {dups} duplicated, order kept: {[v for v in outputs[p] if v in set(inputs[p])] == inputs[p][:len(outputs[p])]}")
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    committed = consumer.committed([TopicPartition(input_topic, p) for p in range(partitions)], timeout=TIMEOUT_S)
    consumer.close()
    committed_offsets = [tp.offset for tp in committed]
    if committed_offsets != input_ends:
        problems.append(f"committed offsets {committed_offsets} != input end offsets {input_ends}")
    out({
        "mode": "verify",
        "input_records": sum(len(v) for v in inputs),
        "output_records": sum(len(v) for v in outputs),
        "committed_offsets": committed_offsets,
        "input_ends": input_ends,
        "problems": problems,
    })
    return 0 if not problems else 1


def main():
    mode = sys.argv[1]
    if mode == "fill":
        return fill(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    if mode == "copy":
        return copy(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]), sys.argv[7])
    if mode == "verify":
        return verify(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], int(sys.argv[6]))
    raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    sys.exit(main())
