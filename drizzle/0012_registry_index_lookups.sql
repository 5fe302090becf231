-- Hand-written (drizzle-kit generate --custom): the removal trigger of 0007 looks the objects up by key
-- instead of hashing the whole registry. A transition table has no statistics (and PGlite never
-- analyzes), so the planner guessed a few hundred removed rows and chose a sequential scan of
-- segment_objects for both the lock and the update: every merge swap, retention pass or topic deletion
-- cost a scan of every registered object (measured on PGlite: 30 ms of a 1,000-row swap's 54 ms with
-- 31,000 objects), growing with the registry. The work is now proportional to the rows removed.
CREATE OR REPLACE FUNCTION segment_objects_rows_removed() RETURNS trigger LANGUAGE plpgsql
SET enable_seqscan = off AS $$
DECLARE
  now_ms bigint := (floor(extract(epoch from now()) * 1000))::bigint;
BEGIN
  PERFORM 1 FROM segment_objects o WHERE o.key IN (SELECT s3_key FROM removed_rows) ORDER BY o.key FOR UPDATE;
  UPDATE segment_objects o SET
    live_bytes = greatest(o.live_bytes - d.bytes, 0),
    ref_count = greatest(o.ref_count - d.n, 0),
    state = CASE WHEN o.ref_count - d.n <= 0 AND o.state = 'live' THEN 'unreferenced' ELSE o.state END,
    state_changed_at = CASE WHEN o.ref_count - d.n <= 0 AND o.state = 'live' THEN now_ms ELSE o.state_changed_at END
  FROM (SELECT s3_key, count(*)::int AS n, sum(byte_length) AS bytes FROM removed_rows GROUP BY s3_key) d
  WHERE o.key = d.s3_key;
  RETURN NULL;
END $$;
