// node-rdkafka (current librdkafka) with promises: connect, produce with its delivery report, consume
// a number of records, and the admin calls. Callbacks of node-rdkafka run on librdkafka's queues, so
// every wrapper here resolves from them and never blocks the event loop.
import Kafka from 'node-rdkafka';
import type {
  ConsumerGlobalConfig,
  ConsumerTopicConfig,
  DeliveryReport,
  GlobalConfig,
  IAdminClient,
  KafkaConsumer,
  LibrdKafkaError,
  Message,
  MessageHeader,
  Metadata,
  NewTopic,
  Producer,
  ProducerGlobalConfig,
  TopicPartitionOffset,
  TopicPartitionTime,
} from 'node-rdkafka';

export { Kafka };
export type { DeliveryReport, IAdminClient, KafkaConsumer, LibrdKafkaError, Message, Metadata, Producer, TopicPartitionOffset };

type Conf = Record<string, string | number | boolean>;

function settle<T>(resolve: (v: T) => void, reject: (e: Error) => void) {
  return (err: LibrdKafkaError | null | undefined, value: T) => (err ? reject(err as unknown as Error) : resolve(value));
}

/** A connected producer with delivery reports; `produce` resolves with each record's report. */
export class RdProducer {
  private next = 0;
  private readonly pending = new Map<number, { resolve: (r: DeliveryReport) => void; reject: (e: Error) => void }>();

  private constructor(readonly client: Producer) {
    client.on('delivery-report', (err, report) => {
      const waiter = this.pending.get(report.opaque as number);
      if (waiter === undefined) return;
      this.pending.delete(report.opaque as number);
      if (err) waiter.reject(err as unknown as Error);
      else waiter.resolve(report);
    });
  }

  static async connect(conf: Conf): Promise<RdProducer> {
    const client = new Kafka.Producer({ 'linger.ms': 5, ...conf, dr_cb: true } as ProducerGlobalConfig);
    await new Promise<Metadata>((resolve, reject) => client.connect({}, settle(resolve, reject)));
    client.setPollInterval(10);
    return new RdProducer(client);
  }

  produce(topic: string, partition: number | null, value: string | Buffer, key?: string, headers?: MessageHeader[]): Promise<DeliveryReport> {
    const opaque = this.next++;
    return new Promise((resolve, reject) => {
      this.pending.set(opaque, { resolve, reject });
      try {
        this.client.produce(topic, partition, Buffer.isBuffer(value) ? value : Buffer.from(value), key, Date.now(), opaque, headers);
      } catch (err) {
        this.pending.delete(opaque);
        reject(err as Error);
      }
    });
  }

  disconnect(): Promise<void> {
    return new Promise((resolve) => this.client.disconnect(() => resolve()));
  }
}

export async function connectConsumer(conf: Conf, topicConf: Conf = {}): Promise<KafkaConsumer> {
  const c = new Kafka.KafkaConsumer(conf as ConsumerGlobalConfig, topicConf as ConsumerTopicConfig);
  await new Promise<Metadata>((resolve, reject) => c.connect({}, settle(resolve, reject)));
  return c;
}

/** Consumes until `count` records arrived (or `timeoutMs` passed: then what arrived so far). */
export async function consumeRecords(c: KafkaConsumer, count: number, timeoutMs = 15_000): Promise<Message[]> {
  const out: Message[] = [];
  const deadline = Date.now() + timeoutMs;
  while (out.length < count && Date.now() < deadline) {
    const batch = await new Promise<Message[]>((resolve, reject) => c.consume(count - out.length, settle(resolve, reject)));
    out.push(...batch);
  }
  return out;
}

export function disconnect(c: KafkaConsumer | IAdminClient): Promise<void> {
  if (!(c instanceof Kafka.KafkaConsumer)) {
    c.disconnect();
    return Promise.resolve();
  }
  return new Promise((resolve) => c.disconnect(() => resolve()));
}

export function getMetadata(c: KafkaConsumer | Producer, topic?: string): Promise<Metadata> {
  return new Promise((resolve, reject) => c.getMetadata({ topic, timeout: 10_000 }, settle(resolve, reject)));
}

export function offsetsForTimes(c: KafkaConsumer, partitions: TopicPartitionTime[], timeoutMs = 10_000): Promise<TopicPartitionOffset[]> {
  return new Promise((resolve, reject) => c.offsetsForTimes(partitions, timeoutMs, settle(resolve, reject)));
}

export function committed(c: KafkaConsumer, partitions: Array<{ topic: string; partition: number }>, timeoutMs = 10_000): Promise<TopicPartitionOffset[]> {
  return new Promise((resolve, reject) => c.committed(partitions, timeoutMs, settle(resolve, reject)));
}

export function seek(c: KafkaConsumer, to: TopicPartitionOffset, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => c.seek(to, timeoutMs, (err) => (err ? reject(err as unknown as Error) : resolve())));
}

export function createAdmin(conf: Conf): IAdminClient {
  return Kafka.AdminClient.create(conf as GlobalConfig);
}

export function createTopic(admin: IAdminClient, topic: NewTopic, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => admin.createTopic(topic, timeoutMs, (err) => (err ? reject(err as unknown as Error) : resolve())));
}

export function deleteTopic(admin: IAdminClient, topic: string, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => admin.deleteTopic(topic, timeoutMs, (err) => (err ? reject(err as unknown as Error) : resolve())));
}

export function createPartitions(admin: IAdminClient, topic: string, total: number, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve, reject) => admin.createPartitions(topic, total, timeoutMs, (err) => (err ? reject(err as unknown as Error) : resolve())));
}
