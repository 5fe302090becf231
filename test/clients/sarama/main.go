// A sarama (Go) client for the end-to-end tests, built from Debian's golang-github-shopify-sarama-dev
// (sarama 1.22) in GOPATH mode. It prints one JSON line per event.
//
//	sarama-e2e BOOTSTRAP TOPIC produce N       create TOPIC (3 partitions), send N keyed records with a
//	                                           header to partition i%3 (SyncProducer, acks=all, snappy)
//	sarama-e2e BOOTSTRAP TOPIC consume GROUP N consume N records in consumer group GROUP, mark each, and
//	                                           leave the group (offsets are committed on close)
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
