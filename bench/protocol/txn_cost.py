"""What transactions cost a producer: librdkafka (Debian's confluent-kafka on /usr/bin/python3)
producing as fast as it can for a while, either idempotently (the baseline) or in transactions of
a fixed number of records, each committed before the next begins. Both runs use the same loop,
record size and settings (enable.idempotence, acks=all, linger.ms=5); the transactional one adds
init_transactions once and begin/commit around every `txn_records` records.

Only what was acknowledged counts: the idempotent run counts the records produced before its
final flush() returned without error, the transactional one the records of committed
transactions. The first second is a warm-up, not counted.

Usage (prints one JSON line on stdout):
  txn_cost.py idempotent <bootstrap> <topic> <seconds> <record_bytes>
  txn_cost.py transactional <bootstrap> <topic> <seconds> <record_bytes> <txn_records>
"""
import json
import os
import resource
import sys
import time

from confluent_kafka import KafkaException, Producer

WARMUP_S = 1.0
CHUNK = 1000


def cpu_s():
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def produce_chunk(producer, topic, value, count):
    for _ in range(count):
        while True:
            try:
                producer.produce(topic, value)
                break
            except BufferError:
                producer.poll(0.005)
    producer.poll(0)


def main():
    mode, bootstrap, topic, seconds, record_bytes = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4]), int(sys.argv[5])
    txn_records = int(sys.argv[6]) if mode == "transactional" else CHUNK
    errors = []
    config = {
        "bootstrap.servers": bootstrap,
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "error_cb": lambda err: errors.append(str(err)),
    }
    if mode == "transactional":
        config["transactional.id"] = f"bench-txn-cost-{os.getpid()}"
    producer = Producer(config)
    value = b"a" * record_bytes
    if mode == "transactional":
        producer.init_transactions(30)

    def run_for(duration_s):
        records = 0
        end = time.monotonic() + duration_s
        # Bounded by the clock: each pass sends one chunk (one transaction when transactional).
        while time.monotonic() < end:
            if mode == "transactional":
                producer.begin_transaction()
                produce_chunk(producer, topic, value, txn_records)
                producer.commit_transaction(30)
                records += txn_records
            else:
                produce_chunk(producer, topic, value, CHUNK)
                records += CHUNK
        if mode != "transactional" and producer.flush(30) != 0:
            raise KafkaException("records left unflushed")
        return records

    run_for(WARMUP_S)
    cpu_before = cpu_s()
    start = time.monotonic()
    records = run_for(seconds)
    elapsed = time.monotonic() - start
    print(json.dumps({"mode": mode, "records": records, "seconds": elapsed, "client_cpu_s": cpu_s() - cpu_before, "errors": errors[:5]}), flush=True)


if __name__ == "__main__":
    main()
