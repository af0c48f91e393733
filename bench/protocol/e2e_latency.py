"""End-to-end latency at a fixed rate with librdkafka (Debian's confluent-kafka on /usr/bin/python3).

Each record's value starts with the producer's CLOCK_MONOTONIC time in ns (system-wide on Linux,
so another process can subtract it) and its sequence number, padded to the record size. The
consumer, a separate process started first, measures now - that time for every record. Records of
the first second (or fifth of the run) are left out: they include the consumer's first fetches.

Config: librdkafka's defaults plus linger.ms as told (the bench passes 1: the default of 5 ms
would take the whole budget) and acks=1 for the producer, which also reports how long each record
took to be acked (the producer's half of the end-to-end time); the consumer assigns every partition from the beginning (no group
rebalance to wait for) and keeps its defaults.

Usage (each prints one JSON line on stdout):
  e2e_latency.py consume <bootstrap> <topic> <partitions> <rate> <count> <timeout_s>
  e2e_latency.py produce <bootstrap> <topic> <rate> <count> <record_bytes> <linger_ms>
  e2e_latency.py floor <rate> <count> <record_bytes>   the same pacing and stamps through a pipe
                                                       between two processes, no Kafka
"""
import json
import multiprocessing
import struct
import sys
import time

STAMP = struct.Struct(">qq")
DELIVERY_TIMEOUT_S = 30


def warmup_count(rate, count):
    return min(rate, count // 5)


def summary(latencies_ns, received, skipped):
    latencies_ns.sort()
    n = len(latencies_ns)

    def at(p):
        return latencies_ns[min(n - 1, int(n * p))] / 1e6 if n else None

    return {"received": received, "measured": n, "skipped_warmup": skipped,
            "p50_ms": at(0.5), "p99_ms": at(0.99), "p999_ms": at(0.999), "max_ms": latencies_ns[-1] / 1e6 if n else None}


def paced(rate, count, record_bytes, send):
    """Calls send(value) count times at `rate` a second; returns the seconds it took and the worst lag."""
    padding = b"x" * max(0, record_bytes - STAMP.size)
    start = time.monotonic()
    worst_lag = 0.0
    for seq in range(count):
        due = start + seq / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        else:
            worst_lag = max(worst_lag, now - due)
        send(STAMP.pack(time.monotonic_ns(), seq) + padding)
    return time.monotonic() - start, worst_lag


def consume(bootstrap, topic, partitions, rate, count, timeout_s):
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "partita-bench-e2e"})
    consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in range(int(partitions))])
    count = int(count)
    skip = warmup_count(int(rate), count)
    latencies = []
    received = 0
    errors = []
    # One poll first, so the consumer is connected before the producer is told to start.
    consumer.poll(0.5)
    print(json.dumps({"ready": True}), flush=True)
    deadline = time.monotonic() + float(timeout_s)
    while received < count and time.monotonic() < deadline:
        msg = consumer.poll(0.1)
        if msg is None:
            continue
        if msg.error() is not None:
            errors.append(msg.error().str())
            continue
        now = time.monotonic_ns()
        sent_ns, seq = STAMP.unpack_from(msg.value())
        received += 1
        if seq >= skip:
            latencies.append(now - sent_ns)
    consumer.close()
    result = summary(latencies, received, received - len(latencies))
    result["errors"] = errors[:5]
    print(json.dumps(result), flush=True)


def produce(bootstrap, topic, rate, count, record_bytes, linger_ms):
    from confluent_kafka import Producer

    producer = Producer({"bootstrap.servers": bootstrap, "linger.ms": int(linger_ms), "acks": 1})
    errors = []
    acked_ns = []
    skip = warmup_count(int(rate), int(count))

    def on_delivery(err, msg):
        if err is not None:
            errors.append(err.str())
            return
        # How long the produce took to be acked: the producer's half of the end-to-end time.
        sent_ns, seq = STAMP.unpack_from(msg.value())
        acked_ns.append(time.monotonic_ns() - sent_ns if seq >= skip else None)

    def send(value):
        producer.produce(topic, value=value, on_delivery=on_delivery)
        producer.poll(0)

    seconds, worst_lag = paced(int(rate), int(count), int(record_bytes), send)
    left = producer.flush(DELIVERY_TIMEOUT_S)
    acked = summary([ns for ns in acked_ns if ns is not None], len(acked_ns), 0)
    print(json.dumps({"sent": int(count), "delivered": len(acked_ns), "undelivered": left, "seconds": seconds,
                      "worst_pacing_lag_ms": worst_lag * 1e3, "ack_p50_ms": acked["p50_ms"], "ack_p99_ms": acked["p99_ms"],
                      "errors": errors[:5]}), flush=True)


def floor_consumer(reader, count, rate, out):
    skip = warmup_count(rate, count)
    latencies = []
    for _ in range(count):
        value = reader.recv_bytes()
        now = time.monotonic_ns()
        sent_ns, seq = STAMP.unpack_from(value)
        if seq >= skip:
            latencies.append(now - sent_ns)
    out.send(summary(latencies, count, count - len(latencies)))


def floor(rate, count, record_bytes):
    rate, count = int(rate), int(count)
    reader, writer = multiprocessing.Pipe(duplex=False)
    result_reader, result_writer = multiprocessing.Pipe(duplex=False)
    child = multiprocessing.Process(target=floor_consumer, args=(reader, count, rate, result_writer))
    child.start()
    seconds, worst_lag = paced(rate, count, int(record_bytes), writer.send_bytes)
    result = result_reader.recv()
    child.join()
    result.update({"sent": count, "seconds": seconds, "worst_pacing_lag_ms": worst_lag * 1e3})
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    commands = {"consume": consume, "produce": produce, "floor": floor}
    if len(sys.argv) < 2 or sys.argv[1] not in commands:
        sys.exit(__doc__)
    commands[sys.argv[1]](*sys.argv[2:])
