// A sarama (Go) client for the end-to-end tests, built from Debian's golang-github-shopify-sarama-dev
// (sarama 1.22) in GOPATH mode. It prints one JSON line per event.
//
//	sarama-e2e BOOTSTRAP TOPIC produce N       create TOPIC (3 partitions), send N keyed records with a
//	                                           header to partition i%3 (SyncProducer, acks=all, snappy)
//	sarama-e2e BOOTSTRAP TOPIC consume GROUP N consume N records in consumer group GROUP, mark each, and
//	                                           leave the group (offsets are committed on close)
//	sarama-e2e BOOTSTRAP TOPIC admin GROUP     the cluster admin calls (old API versions, as sarama sends
//	                                           them) around a topic and a group's committed offset
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/Shopify/sarama"
)

func main() {
	if len(os.Args) < 5 {
		fmt.Fprintln(os.Stderr, "usage: sarama-e2e BOOTSTRAP TOPIC produce N | consume GROUP N")
		os.Exit(2)
	}
	bootstrap := []string{os.Args[1]}
	topic := os.Args[2]
	cfg := sarama.NewConfig()
	cfg.ClientID = "sarama-e2e"
	// sarama 1.22 defaults to Kafka 0.8.2 (message format v0), which Kafka 4 no longer accepts either.
	cfg.Version = sarama.V2_1_0_0
	cfg.Producer.RequiredAcks = sarama.WaitForAll
	cfg.Producer.Return.Successes = true
	cfg.Producer.Compression = sarama.CompressionSnappy
	cfg.Producer.Partitioner = sarama.NewManualPartitioner
	cfg.Consumer.Offsets.Initial = sarama.OffsetOldest
	cfg.Consumer.Return.Errors = true
	switch os.Args[3] {
	case "produce":
		n, err := strconv.Atoi(os.Args[4])
		must(err)
		produce(bootstrap, topic, n, cfg)
	case "admin":
		admin(bootstrap, topic, os.Args[4], cfg)
	case "consume":
		n, err := strconv.Atoi(os.Args[5])
		must(err)
		consume(bootstrap, topic, os.Args[4], n, cfg)
	default:
		must(fmt.Errorf("unknown mode %q", os.Args[3]))
	}
}

func produce(bootstrap []string, topic string, n int, cfg *sarama.Config) {
	admin, err := sarama.NewClusterAdmin(bootstrap, cfg)
	must(err)
	must(admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 3, ReplicationFactor: 1}, false))
	must(admin.Close())
	producer, err := sarama.NewSyncProducer(bootstrap, cfg)
	must(err)
	for i := 0; i < n; i++ {
		p, o, err := producer.SendMessage(&sarama.ProducerMessage{
			Topic:     topic,
			Partition: int32(i % 3),
			Key:       sarama.StringEncoder(fmt.Sprintf("k%d", i)),
			Value:     sarama.StringEncoder(fmt.Sprintf("v%d", i)),
			Headers:   []sarama.RecordHeader{{Key: []byte("h"), Value: []byte(fmt.Sprintf("x%d", i))}},
		})
		must(err)
		out(map[string]interface{}{"event": "produced", "i": i, "p": p, "o": o})
	}
	must(producer.Close())
	out(map[string]interface{}{"event": "done"})
}

func admin(bootstrap []string, topic, groupID string, cfg *sarama.Config) {
	admin, err := sarama.NewClusterAdmin(bootstrap, cfg)
	must(err)
	retention := "3600000"
	must(admin.CreateTopic(topic, &sarama.TopicDetail{NumPartitions: 2, ReplicationFactor: 1, ConfigEntries: map[string]*string{"retention.ms": &retention}}, false))
	topics, err := admin.ListTopics()
	must(err)
	out(map[string]interface{}{"event": "listed", "partitions": topics[topic].NumPartitions})
	must(admin.CreatePartitions(topic, 3, nil, false))
	described, err := admin.DescribeTopics([]string{topic})
	must(err)
	out(map[string]interface{}{"event": "described", "partitions": len(described[0].Partitions)})
	retention = "7200000"
	must(admin.AlterConfig(sarama.TopicResource, topic, map[string]*string{"retention.ms": &retention}, false))
	entries, err := admin.DescribeConfig(sarama.ConfigResource{Type: sarama.TopicResource, Name: topic, ConfigNames: []string{"retention.ms", "cleanup.policy"}})
	must(err)
	configs := map[string]interface{}{}
	for _, e := range entries {
		configs[e.Name] = map[string]interface{}{"value": e.Value, "default": e.Default}
	}
	out(map[string]interface{}{"event": "configs", "configs": configs})

	client, err := sarama.NewClient(bootstrap, cfg)
	must(err)
	producer, err := sarama.NewSyncProducerFromClient(client)
	must(err)
	for i := 0; i < 6; i++ {
		_, _, err := producer.SendMessage(&sarama.ProducerMessage{Topic: topic, Partition: 0, Value: sarama.StringEncoder(fmt.Sprintf("r%d", i))})
		must(err)
	}
	must(admin.DeleteRecords(topic, map[int32]int64{0: 4}))
	oldest, err := client.GetOffset(topic, 0, sarama.OffsetOldest)
	must(err)
	newest, err := client.GetOffset(topic, 0, sarama.OffsetNewest)
	must(err)
	out(map[string]interface{}{"event": "offsets", "oldest": oldest, "newest": newest})

	manager, err := sarama.NewOffsetManagerFromClient(groupID, client)
	must(err)
	pom, err := manager.ManagePartition(topic, 0)
	must(err)
	pom.MarkOffset(5, "meta")
	must(pom.Close())
	must(manager.Close())
	groups, err := admin.ListConsumerGroups()
	must(err)
	groupDescs, err := admin.DescribeConsumerGroups([]string{groupID})
	must(err)
	committed, err := admin.ListConsumerGroupOffsets(groupID, map[string][]int32{topic: {0, 1}})
	must(err)
	_, listed := groups[groupID]
	out(map[string]interface{}{"event": "group", "listed": listed, "state": groupDescs[0].State, "members": len(groupDescs[0].Members),
		"p0": committed.Blocks[topic][0].Offset, "p0meta": committed.Blocks[topic][0].Metadata, "p1": committed.Blocks[topic][1].Offset})

	must(admin.DeleteTopic(topic))
	topics, err = admin.ListTopics()
	must(err)
	_, still := topics[topic]
	out(map[string]interface{}{"event": "deleted", "listed": still})
	must(producer.Close())
	must(admin.Close())
}

func consume(bootstrap []string, topic, groupID string, n int, cfg *sarama.Config) {
	group, err := sarama.NewConsumerGroup(bootstrap, groupID, cfg)
	must(err)
	go func() {
		for err := range group.Errors() {
			out(map[string]interface{}{"event": "error", "error": err.Error()})
		}
	}()
	h := &handler{want: n, done: make(chan struct{})}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	go func() {
		<-h.done
		cancel()
	}()
	for ctx.Err() == nil {
		if err := group.Consume(ctx, []string{topic}, h); err != nil {
			out(map[string]interface{}{"event": "error", "error": err.Error()})
			time.Sleep(200 * time.Millisecond)
		}
	}
	must(group.Close())
	out(map[string]interface{}{"event": "closed"})
}

type handler struct {
	mu   sync.Mutex
	n    int
	want int
	done chan struct{}
	once sync.Once
}

func (h *handler) Setup(s sarama.ConsumerGroupSession) error {
	out(map[string]interface{}{"event": "assign", "claims": s.Claims(), "generation": s.GenerationID()})
	return nil
}

func (h *handler) Cleanup(sarama.ConsumerGroupSession) error { return nil }

func (h *handler) ConsumeClaim(s sarama.ConsumerGroupSession, c sarama.ConsumerGroupClaim) error {
	for m := range c.Messages() {
		headers := map[string]string{}
		for _, x := range m.Headers {
			headers[string(x.Key)] = string(x.Value)
		}
		out(map[string]interface{}{"event": "record", "p": m.Partition, "o": m.Offset, "k": string(m.Key), "v": string(m.Value), "h": headers, "ts": m.Timestamp.UnixNano() / 1e6})
		s.MarkMessage(m, "")
		h.mu.Lock()
		h.n++
		if h.n >= h.want {
			h.once.Do(func() { close(h.done) })
		}
		h.mu.Unlock()
	}
	return nil
}

func out(o map[string]interface{}) {
	b, _ := json.Marshal(o)
	fmt.Println(string(b))
}

func must(err error) {
	if err != nil {
		out(map[string]interface{}{"event": "fatal", "error": err.Error()})
		os.Exit(1)
	}
}
