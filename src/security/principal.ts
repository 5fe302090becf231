// Who a connection acts as, in Kafka's form `User:<name>`. A connection starts anonymous (PLAINTEXT, or
// SSL without a client certificate); authentication (SASL, a client certificate) replaces it.
export type KafkaPrincipal = string;

export const ANONYMOUS: KafkaPrincipal = 'User:ANONYMOUS';

export function userPrincipal(name: string): KafkaPrincipal {
  return `User:${name}`;
}
