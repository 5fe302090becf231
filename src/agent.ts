// The agent: wires protocol, storage and metadata into one Kafka broker process.
import type { Config } from './config.js';
import type { Logger } from './logger.js';

export class Agent {
  constructor(
    readonly config: Config,
    readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    throw new Error('not assembled yet');
  }

  async stop(): Promise<void> {}
}
