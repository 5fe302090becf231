// storage/: segment objects, object stores, the group-commit writer and the cached reader.
export type { ObjectStore, ObjectInfo, ByteRange } from './types.js';
export { createObjectStore, type ObjectStoreConfig } from './object-store.js';
export { LocalObjectStore, type LocalStoreConfig } from './local-store.js';
export { S3ObjectStore, type S3StoreConfig, isRetriableS3Error } from './s3-store.js';
export { ObjectNotFoundError, ObjectStoreError, CorruptSegmentError } from './errors.js';
export {
  SegmentWriter,
  defaultFlushSettings,
  type SegmentWriterOptions,
  type WriterMetadata,
  type AppendResult,
  type CommitEvent,
  type RollbackEvent,
  type CycleEvent,
  type WriterStats,
  type FlushDefaults,
  type ProducerSnapshot,
} from './segment-writer.js';
export { SegmentReader, type SegmentReaderOptions, type ReaderMetadata, type TimestampLookup, type ReaderStats } from './segment-reader.js';
export { RegistryCleaner, DEFAULT_CLEANUP_BOUNDS, type RegistryCleanerOptions, type RegistryCleanResult } from './object-registry.js';
export { OrphanCleaner, type OrphanCleanerOptions, type CleanerMetadata, type CleanResult } from './orphan-cleaner.js';
export {
  FORMAT_VERSION,
  encodeSegmentObject,
  decodeSegmentObject,
  parseObjectHeader,
  type ChunkIndex,
  type BlockEntry,
  type EncodedObject,
} from './segment-format.js';
export { systemClock, systemTimers, type Clock, type Timers, type StorageLogger } from './clock.js';
