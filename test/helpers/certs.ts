// Test certificates made with openssl at test time: a CA, a server certificate for localhost and
// 127.0.0.1 signed by it, and a client certificate (CN=client) for SSL client authentication.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestCerts {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  ca: Buffer;
  /** Issues another server certificate (a reload) into certFile/keyFile; returns its serial. */
  reissueServer(): string;
  cleanup(): void;
}

function openssl(args: string[], cwd: string): string {
  return execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
}

export function makeCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'streamhouse-certs-'));
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=StreamHouse Test CA'], dir);
  const issue = (name: string, subj: string, san: string | undefined) => {
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key.new`, '-out', `${name}.csr`, '-subj', subj], dir);
    const ext = san === undefined ? [] : ['-extfile', writeExt(dir, name, san)];
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem.new`, '-days', '2', ...ext], dir);
    // Key first, then certificate, each renamed into place (a reader never sees a half-written file).
    execFileSync('mv', [`${name}.key.new`, `${name}.key`], { cwd: dir });
    execFileSync('mv', [`${name}.pem.new`, `${name}.pem`], { cwd: dir });
    return openssl(['x509', '-in', `${name}.pem`, '-noout', '-serial'], dir).trim();
  };
  issue('server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1');
  issue('client', '/O=StreamHouse/CN=client', undefined);
  return {
    dir,
    caFile: join(dir, 'ca.pem'),
    certFile: join(dir, 'server.pem'),
    keyFile: join(dir, 'server.key'),
    clientCertFile: join(dir, 'client.pem'),
    clientKeyFile: join(dir, 'client.key'),
    ca: readFileSync(join(dir, 'ca.pem')),
    reissueServer: () => issue('server', '/CN=localhost', 'subjectAltName=DNS:localhost,IP:127.0.0.1'),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function writeExt(dir: string, name: string, san: string): string {
  const file = join(dir, `${name}.ext`);
  execFileSync('sh', ['-c', `printf '%s\\n' "$1" > "$2"`, 'sh', san, file]);
  return file;
}
