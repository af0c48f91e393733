// Debian's sarama (1.22) against Partita, built in GOPATH mode (see sarama.test.ts). Each command
// prints one JSON line on stdout. sarama's default config speaks Kafka 0.8.2's versions: Produce
// v0 (message format v0), Fetch v0, ListOffsets v0, OffsetCommit v1, OffsetFetch v1, Metadata v0.
//
// Usage: sarama_client <command> <bootstrap> <args...>
//   produce <topic> <count> [first]      SyncProducer (default config; SyncProducer needs Return.Successes),
//                                        keys k<i> and values v<i> for i from first (default 0)
//   produce-acks0 <topic> <count>        AsyncProducer with RequiredAcks=NoResponse, closed right after the sends
//   consume <topic> <partition> <count>  partition consumer from the oldest offset (default config)
//   group <topic> <group> <count>        consumer group (Version 0.10.2, the lowest sarama allows for groups)
//                                        marks every message and closes, committing with OffsetCommit v1
//   offsets <topic>                      Client.GetOffset oldest and newest of partition 0 (ListOffsets v0)
//   admin <topic>                        ClusterAdmin (Version 1.0: sarama refuses admin below 0.10) creates,
//                                        describes, alters, grows and deletes a topic
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

func fail(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}

func emit(v interface{}) {
	out, err := json.Marshal(v)
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func atoi(s string) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		fail(err)
	}
	return n
}

func produce(brokers []string, topic string, count int, first int) {
	config := sarama.NewConfig()
	config.Producer.Return.Successes = true
	producer, err := sarama.NewSyncProducer(brokers, config)
	if err != nil {
		fail(err)
	}
	offsets := []int64{}
	for i := first; i < first+count; i++ {
		_, offset, err := producer.SendMessage(&sarama.ProducerMessage{Topic: topic, Key: sarama.StringEncoder(fmt.Sprintf("k%d", i)), Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))})
		if err != nil {
			fail(err)
		}
		offsets = append(offsets, offset)
	}
	if err := producer.Close(); err != nil {
		fail(err)
	}
	emit(map[string]interface{}{"offsets": offsets})
}

func produceAcks0(brokers []string, topic string, count int) {
	config := sarama.NewConfig()
	config.Producer.RequiredAcks = sarama.NoResponse
	producer, err := sarama.NewAsyncProducer(brokers, config)
	if err != nil {
		fail(err)
	}
	errors := 0
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for range producer.Errors() {
			errors++
		}
	}()
	for i := 0; i < count; i++ {
		producer.Input() <- &sarama.ProducerMessage{Topic: topic, Value: sarama.StringEncoder(fmt.Sprintf("v%d", i))}
	}
	producer.AsyncClose()
	wg.Wait()
	emit(map[string]interface{}{"sent": count, "errors": errors})
}

func consume(brokers []string, topic string, partition int, count int) {
	consumer, err := sarama.NewConsumer(brokers, sarama.NewConfig())
	if err != nil {
		fail(err)
	}
	pc, err := consumer.ConsumePartition(topic, int32(partition), sarama.OffsetOldest)
	if err != nil {
		fail(err)
	}
	type record struct {
		Offset int64  `json:"offset"`
		Key    string `json:"key"`
		Value  string `json:"value"`
	}
	records := []record{}
	deadline := time.After(30 * time.Second)
	for len(records) < count {
		select {
		case m := <-pc.Messages():
			records = append(records, record{m.Offset, string(m.Key), string(m.Value)})
		case err := <-pc.Errors():
			fail(err)
		case <-deadline:
			fail(fmt.Errorf("read %d of %d messages in 30 s", len(records), count))
		}
	}
	pc.Close()
	consumer.Close()
	emit(map[string]interface{}{"records": records})
}

type handler struct {
	want  int
	mu    sync.Mutex
	seen  []string
	done  chan struct{}
	once  sync.Once
}

func (h *handler) Setup(sarama.ConsumerGroupSession) error   { return nil }
func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }
func (h *handler) ConsumeClaim(session sarama.ConsumerGroupSession, claim sarama.ConsumerGroupClaim) error {
	for m := range claim.Messages() {
		h.mu.Lock()
		h.seen = append(h.seen, string(m.Value))
		n := len(h.seen)
		h.mu.Unlock()
		session.MarkMessage(m, "")
		if n >= h.want {
			h.once.Do(func() { close(h.done) })
		}
	}
	return nil
}

func group(brokers []string, topic string, groupID string, count int) {
	config := sarama.NewConfig()
	config.Version = sarama.V0_10_2_0
	config.Consumer.Offsets.Initial = sarama.OffsetOldest
	cg, err := sarama.NewConsumerGroup(brokers, groupID, config)
	if err != nil {
		fail(err)
	}
	h := &handler{want: count, done: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, 1)
	go func() {
		for ctx.Err() == nil {
			if err := cg.Consume(ctx, []string{topic}, h); err != nil {
				errs <- err
				return
			}
		}
	}()
	select {
	case <-h.done:
	case err := <-errs:
		fail(err)
	case <-time.After(40 * time.Second):
		fail(fmt.Errorf("group read %d of %d messages in 40 s", len(h.seen), count))
	}
	cancel()
	// Close commits what was marked (OffsetCommit v1, as Consumer.Offsets.Retention is 0).
	if err := cg.Close(); err != nil {
		fail(err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	emit(map[string]interface{}{"values": h.seen})
}

func offsets(brokers []string, topic string) {
	client, err := sarama.NewClient(brokers, sarama.NewConfig())
	if err != nil {
		fail(err)
	}
	oldest, err := client.GetOffset(topic, 0, sarama.OffsetOldest)
	if err != nil {
		fail(err)
	}
	newest, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	if err != nil {
		fail(err)
	}
	client.Close()
	emit(map[string]interface{}{"oldest": oldest, "newest": newest})
}

func admin(brokers []string, topic string) {
	config := sarama.NewConfig()
	config.Version = sarama.V1_0_0_0
	ca, err := sarama.NewClusterAdmin(brokers, config)
	if err != nil {
		fail(err)
	}
	retention := "3600000"
	if err := ca.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1, ConfigEntries: map[string]*string{"retention.ms": &retention}}, false); err != nil {
		fail(err)
	}
	topics, err := ca.ListTopics()
	if err != nil {
		fail(err)
	}
	entries, err := ca.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"retention.ms"}})
	if err != nil {
		fail(err)
	}
	described := ""
	for _, e := range entries {
		if e.Name == "retention.ms" {
			described = e.Value
		}
	}
	format := "2.8"
	if err := ca.AlterConfig(sarama.TopicResource, topic, map[string]*string{"message.format.version": &format}, false); err != nil {
		fail(err)
	}
	if err := ca.CreatePartitions(topic, 3, nil, false); err != nil {
		fail(err)
	}
	metadata, err := ca.DescribeTopics([]string{topic})
	if err != nil {
		fail(err)
	}
	partitions := len(metadata[0].Partitions)
	brokersSeen, controller, err := ca.DescribeCluster()
	if err != nil {
		fail(err)
	}
	if err := ca.DeleteTopic(topic); err != nil {
		fail(err)
	}
	ca.Close()
	emit(map[string]interface{}{
		"listed":      topics[topic].NumPartitions,
		"retentionMs": described,
		"partitions":  partitions,
		"brokers":     len(brokersSeen),
		"controller":  controller,
	})
}

func main() {
	if len(os.Args) < 4 {
		fail(fmt.Errorf("usage: sarama_client <command> <bootstrap> <args...>"))
	}
	brokers := strings.Split(os.Args[2], ",")
	args := os.Args[3:]
	switch os.Args[1] {
	case "produce":
		first := 0
		if len(args) > 2 {
			first = atoi(args[2])
		}
		produce(brokers, args[0], atoi(args[1]), first)
	case "produce-acks0":
		produceAcks0(brokers, args[0], atoi(args[1]))
	case "consume":
		consume(brokers, args[0], atoi(args[1]), atoi(args[2]))
	case "group":
		group(brokers, args[0], args[1], atoi(args[2]))
	case "offsets":
		offsets(brokers, args[0])
	case "admin":
		admin(brokers, args[0])
	default:
		fail(fmt.Errorf("unknown command %s", os.Args[1]))
	}
}
