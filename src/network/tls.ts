// TLS for SSL and SASL_SSL listeners: the certificate, key and CA come from PEM files, which are
// polled and, when one changes, loaded into a new secure context that the next connections use
// (connections already open keep theirs). A file that fails to load keeps the previous context, logged.
// Client certificates (ssl.client.auth): required, requested or none; a verified certificate's
// subject becomes the connection's principal, `User:CN=...,O=...` as Kafka's default mapping.
import { X509Certificate } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { createSecureContext, type SecureContext, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { Logger } from '../logger.js';

export type ClientAuth = 'required' | 'requested' | 'none';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** CA bundle that client certificates must chain to ('' = no client certificates can be verified). */
  caFile: string;
  clientAuth: ClientAuth;
}

function stamp(file: string): string {
  if (file === '') return '';
  const st = statSync(file);
  return `${st.mtimeMs}:${st.size}:${st.ino}`;
}

export class TlsContextSource {
  private current: SecureContext;
  private currentOptions: SecureContextOptions;
  private stamps: string;
  private timer: NodeJS.Timeout | undefined;
  private readonly listeners: Array<(options: SecureContextOptions) => void> = [];
  /** How many times the files were loaded (1 at start). */
  loads = 1;

  constructor(
    readonly files: TlsFiles,
    private readonly log: Logger,
  ) {
    if (files.certFile === '' || files.keyFile === '') throw new Error('an SSL or SASL_SSL listener needs ssl-cert-file and ssl-key-file');
    if (files.clientAuth !== 'none' && files.caFile === '') throw new Error(`ssl-client-auth ${files.clientAuth} needs ssl-ca-file`);
    this.stamps = this.readStamps();
    this.currentOptions = this.read();
    this.current = createSecureContext(this.currentOptions);
  }

  get context(): SecureContext {
    return this.current;
  }

  /** Options of tls.createServer (and of setSecureContext on a reload) for these files. */
  serverOptions(): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
    return { ...this.currentOptions, requestCert: this.files.clientAuth !== 'none', rejectUnauthorized: this.files.clientAuth === 'required' };
  }

  onReload(fn: (options: SecureContextOptions) => void): void {
    this.listeners.push(fn);
  }

  private readStamps(): string {
    const f = this.files;
    return [stamp(f.certFile), stamp(f.keyFile), stamp(f.caFile)].join('|');
  }

  private read(): SecureContextOptions {
    const f = this.files;
    return {
      cert: readFileSync(f.certFile),
      key: readFileSync(f.keyFile),
      ca: f.caFile === '' ? undefined : readFileSync(f.caFile),
      minVersion: 'TLSv1.2',
    };
  }

  /** Loads the files again when they changed; true when a new context was made. */
  check(): boolean {
    let stamps: string;
    try {
      stamps = this.readStamps();
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'TLS files unreadable; keeping the loaded certificate');
      return false;
    }
    if (stamps === this.stamps) return false;
    try {
      const options = this.read();
      // Fails here, not in the server, when the key does not match the certificate.
      const ctx = createSecureContext(options);
      this.stamps = stamps;
      this.current = ctx;
      this.currentOptions = options;
      this.loads++;
      for (const fn of this.listeners) fn(options);
      this.log.info({ cert: this.files.certFile }, 'TLS certificate reloaded; new connections use it');
      return true;
    } catch (err) {
      // Half-written files (cert replaced before key) load at the next poll.
      this.log.warn({ err: (err as Error).message }, 'TLS files changed but do not load; keeping the previous certificate');
      return false;
    }
  }

  startPolling(intervalMs: number): void {
    this.timer ??= setInterval(() => this.check(), intervalMs).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** RFC 2253 form of a certificate subject (most specific first), as Java's X500Principal.getName(). */
export function subjectName(cert: X509Certificate): string {
  const parts = cert.subject.split('\n').filter((p) => p !== '');
  return parts
    .reverse()
    .map((p) => {
      const i = p.indexOf('=');
      const key = p.slice(0, i);
      const value = p.slice(i + 1).replace(/([,+"\\<>;])/g, '\\$1');
      return `${key}=${value}`;
    })
    .join(',');
}

/** The principal name of a TLS connection's verified client certificate, if it presented one. */
export function peerCertificateName(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return undefined;
  const raw = socket.getPeerX509Certificate?.();
  return raw === undefined ? undefined : subjectName(raw);
}
