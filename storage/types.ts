// The object-store interface: the only thing storage/ needs from S3 or a local directory.

export interface ObjectInfo {
  key: string;
  size: number;
  /** Last-modified time, epoch ms. */
  lastModified: number;
}

export interface ByteRange {
  /** First byte (inclusive). */
  start: number;
  /** Last byte (inclusive), as in an HTTP Range header. */
  end: number;
}

export interface ObjectStore {
  readonly kind: 'local' | 's3';
  /** The bucket name recorded in segments.s3_bucket (the directory path for the local store). */
  readonly bucket: string;
  /** Writes the object whole (an object is either whole or absent). */
  put(key: string, body: Buffer | Buffer[]): Promise<void>;
  /** Reads the whole object or one byte range of it. */
  get(key: string, range?: ByteRange): Promise<Buffer>;
  delete(key: string): Promise<void>;
  /** Every object under the prefix (all pages). */
  list(prefix: string): Promise<ObjectInfo[]>;
  close(): Promise<void>;
}
