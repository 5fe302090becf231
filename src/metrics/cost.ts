// Estimated object-store cost from a price table (settings price-put-per-1000, price-get-per-1000,
// price-storage-gb-month; defaults: S3 Standard in us-east-1). Pure arithmetic, so the estimates the
// /metrics endpoint exposes can be checked by hand: PUT and LIST are billed at the PUT price, GET at
// the GET price, DELETE is free (as on S3).

export interface PriceTable {
  /** USD per 1,000 PUT, COPY, POST or LIST requests. */
  putPer1000: number;
  /** USD per 1,000 GET requests. */
  getPer1000: number;
  /** USD per GB (10^9 bytes, as AWS bills) stored for a month. */
  storageGbMonth: number;
}

export const S3_STANDARD_US_EAST_1: PriceTable = { putPer1000: 0.005, getPer1000: 0.0004, storageGbMonth: 0.023 };

export type ObjectOp = 'put' | 'get' | 'delete' | 'list';

/** USD of `requests` requests of one kind. */
export function requestCost(op: ObjectOp, requests: number, prices: PriceTable): number {
  switch (op) {
    case 'put':
    case 'list':
      return (requests * prices.putPer1000) / 1000;
    case 'get':
      return (requests * prices.getPer1000) / 1000;
    case 'delete':
      return 0;
  }
}

/** USD per month of keeping `bytes` stored. */
export function storageCostPerMonth(bytes: number, prices: PriceTable): number {
  return (bytes / 1e9) * prices.storageGbMonth;
}

const GiB = 1024 ** 3;

/**
 * Request cost per GiB moved: what writing (PUTs) or reading (GETs) one GiB of segment objects cost
 * in requests so far. 0 before the first byte (not NaN: a gauge Prometheus can aggregate).
 */
export function costPerGiB(usd: number, bytes: number): number {
  return bytes > 0 ? usd / (bytes / GiB) : 0;
}

/**
 * LIST requests one listing took: the stores list every page (1,000 keys per page on S3), and a
 * listing of nothing is still one request.
 */
export function listRequests(keys: number, pageSize = 1000): number {
  return Math.max(1, Math.ceil(keys / pageSize));
}
