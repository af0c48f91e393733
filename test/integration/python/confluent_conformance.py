"""confluent-kafka-python (librdkafka 2.0.2) asking what Kafka 3.x answers in a known way: topic
configs, replica assignments and commits for a topic that does not exist. Each command prints one
JSON line on stdout with the error codes (librdkafka's KafkaError.code(), Kafka's codes for
broker errors) and what it read back.

Usage: confluent_conformance.py <command> <bootstrap> <args...>
  configs <topic>        create with an unknown key (refused), then with Kafka 3.x keys; alter; describe
  assignments <topic>    create as assigned (and badly assigned), then add partitions as assigned
  commit-unknown <topic> commit offsets for <topic>-0 and for a topic that does not exist
  broker-configs <topic> describe broker 1; set log.retention.ms for broker 1 (this client cannot name
                         the cluster default); be refused log.dirs
"""
import json
import sys

from confluent_kafka import Consumer, KafkaException, TopicPartition
from confluent_kafka.admin import AdminClient, ConfigResource, NewPartitions, NewTopic

TIMEOUT_S = 15


def code_of(future):
    try:
        future.result(timeout=TIMEOUT_S)
        return 0
    except KafkaException as e:
        return e.args[0].code()


def create(admin, topic):
    return code_of(admin.create_topics([topic], request_timeout=TIMEOUT_S)[topic.topic])


def topic_names(admin):
    return sorted(t for t in admin.list_topics(timeout=TIMEOUT_S).topics if not t.startswith("__"))


def describe(admin, topic):
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic)
    entries = admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
    return {name: entry.value for name, entry in entries.items()}


def configs(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    unknown = create(admin, NewTopic(topic + "-unknown", 1, 1, config={"no.such.config": "1"}))
    after_unknown = topic_names(admin)
    kafka_keys = {"message.format.version": "2.8", "preallocate": "true", "segment.jitter.ms": "5", "retention.ms": "3600000"}
    created = create(admin, NewTopic(topic, 1, 1, config=kafka_keys))
    described = describe(admin, topic)
    resource = ConfigResource(ConfigResource.Type.TOPIC, topic, set_config={"message.format.version": "2.8", "min.cleanable.dirty.ratio": "0.2"})
    altered = code_of(admin.alter_configs([resource], request_timeout=TIMEOUT_S)[resource])
    after_alter = describe(admin, topic)
    print(json.dumps({
        "unknown": unknown,
        "topicsAfterUnknown": after_unknown,
        "created": created,
        "described": {k: described.get(k) for k in kafka_keys},
        "altered": altered,
        "afterAlter": {k: after_alter.get(k) for k in ["message.format.version", "min.cleanable.dirty.ratio", "preallocate"]},
    }))


def assignments(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    refused = {
        "unknownBroker": create(admin, NewTopic(topic + "-a", 1, replica_assignment=[[0, 9]])),
        "uneven": create(admin, NewTopic(topic + "-b", 2, replica_assignment=[[0, 1], [2]])),
        "duplicate": create(admin, NewTopic(topic + "-c", 1, replica_assignment=[[1, 1]])),
    }
    after_refused = topic_names(admin)
    created = create(admin, NewTopic(topic, 2, replica_assignment=[[2, 0], [1, 2]]))
    bad_grow = code_of(admin.create_partitions([NewPartitions(topic, 3, replica_assignment=[[0, 7]])], request_timeout=TIMEOUT_S)[topic])
    grown = code_of(admin.create_partitions([NewPartitions(topic, 4, replica_assignment=[[0, 1], [1, 0]])], request_timeout=TIMEOUT_S)[topic])
    described = admin.list_topics(topic, timeout=TIMEOUT_S).topics[topic]
    replicas = [described.partitions[p].replicas for p in sorted(described.partitions)]
    leaders = [described.partitions[p].leader for p in sorted(described.partitions)]
    print(json.dumps({"refused": refused, "topicsAfterRefused": after_refused, "created": created, "badGrow": bad_grow, "grown": grown, "replicas": replicas, "leaders": leaders}))


def commit_unknown(bootstrap, topic):
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "conformance-commit", "enable.auto.commit": False})
    results = {}
    for name in [topic, "no-such-topic-" + topic]:
        try:
            committed = consumer.commit(offsets=[TopicPartition(name, 0, 5)], asynchronous=False)
            results[name] = committed[0].error.code() if committed[0].error is not None else 0
        except KafkaException as e:
            results[name] = e.args[0].code()
    consumer.close()
    print(json.dumps(results))


def broker_configs(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    create(admin, NewTopic(topic, 1, 1))

    def describe_broker(name):
        resource = ConfigResource(ConfigResource.Type.BROKER, name)
        entries = admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)
        return {k: {"value": e.value, "readOnly": e.is_read_only, "source": e.source} for k, e in entries.items()}

    def alter_broker(configs):
        resource = ConfigResource(ConfigResource.Type.BROKER, "1", set_config=configs)
        return code_of(admin.alter_configs([resource], request_timeout=TIMEOUT_S)[resource])

    before = describe_broker("1")
    read_only = alter_broker({"log.dirs": "/elsewhere"})
    altered = alter_broker({"log.retention.ms": "60000"})
    after = describe_broker("1")
    print(json.dumps({
        "before": {k: before.get(k) for k in ["log.retention.ms", "num.partitions"]},
        "readOnly": read_only,
        "altered": altered,
        "after": after.get("log.retention.ms"),
    }))


def stock_broker_configs(bootstrap, broker_id, *keys):
    """Every broker config of one broker as confluent-kafka's AdminClient describes it, then what
    AlterConfigs answers for a read-only key and for a key Kafka does not know."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    resource = ConfigResource(ConfigResource.Type.BROKER, broker_id)
    entries = admin.describe_configs([resource], request_timeout=TIMEOUT_S)[resource].result(timeout=TIMEOUT_S)

    def alter(configs):
        altered = ConfigResource(ConfigResource.Type.BROKER, broker_id, set_config=configs)
        return code_of(admin.alter_configs([altered], request_timeout=TIMEOUT_S)[altered])

    print(json.dumps({
        "count": len(entries),
        "entries": {
            k: {"value": e.value, "readOnly": e.is_read_only, "sensitive": e.is_sensitive, "source": e.source}
            for k, e in entries.items() if k in keys
        },
        "readOnly": alter({"process.roles": "broker"}),
        "unknown": alter({"no.such.broker.key": "1"}),
    }))


COMMANDS = {"stock-broker-configs": stock_broker_configs, "configs": configs, "assignments": assignments, "commit-unknown": commit_unknown, "broker-configs": broker_configs}

if __name__ == "__main__":
    COMMANDS[sys.argv[1]](*sys.argv[2:])
