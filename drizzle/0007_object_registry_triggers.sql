-- Hand-written (drizzle-kit generate --custom): the object registry's reference counts, kept by
-- statement-level triggers on segments so that every path adding or removing rows keeps them right
-- (flush commits, merges, retention, topic deletion by cascade, agents of older versions), and the
-- adoption of the objects rows referenced before the registry existed.
INSERT INTO segment_objects (key, bucket, state, size_bytes, live_bytes, ref_count, agent_id, created_at, state_changed_at)
SELECT s3_key, min(s3_bucket), 'live', max(byte_position + byte_length), sum(byte_length), count(*), '',
       (floor(extract(epoch from now()) * 1000))::bigint, (floor(extract(epoch from now()) * 1000))::bigint
FROM segments GROUP BY s3_key
ON CONFLICT (key) DO NOTHING;
--> statement-breakpoint
CREATE FUNCTION segment_objects_rows_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  now_ms bigint := (floor(extract(epoch from now()) * 1000))::bigint;
  refused text;
BEGIN
  PERFORM 1 FROM segment_objects o WHERE o.key IN (SELECT s3_key FROM added_rows) ORDER BY o.key FOR UPDATE;
  SELECT o.key INTO refused FROM segment_objects o
    WHERE o.key IN (SELECT s3_key FROM added_rows) AND o.state IN ('deleting', 'deleted') LIMIT 1;
  IF refused IS NOT NULL THEN
    RAISE EXCEPTION 'segment object % is being deleted (its upload was not committed in time); it cannot be referenced', refused
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  INSERT INTO segment_objects AS o (key, bucket, state, size_bytes, live_bytes, ref_count, agent_id, created_at, state_changed_at)
  SELECT s3_key, min(s3_bucket), 'live', max(byte_position + byte_length), sum(byte_length), count(*), '', now_ms, now_ms
  FROM added_rows GROUP BY s3_key ORDER BY s3_key
  ON CONFLICT (key) DO UPDATE SET
    live_bytes = o.live_bytes + excluded.live_bytes,
    ref_count = o.ref_count + excluded.ref_count,
    state = 'live',
    state_changed_at = CASE WHEN o.state = 'live' THEN o.state_changed_at ELSE excluded.state_changed_at END;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE FUNCTION segment_objects_rows_removed() RETURNS trigger LANGUAGE plpgsql AS $$
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
--> statement-breakpoint
CREATE TRIGGER segments_rows_added AFTER INSERT ON segments REFERENCING NEW TABLE AS added_rows
  FOR EACH STATEMENT EXECUTE FUNCTION segment_objects_rows_added();
--> statement-breakpoint
CREATE TRIGGER segments_rows_removed AFTER DELETE ON segments REFERENCING OLD TABLE AS removed_rows
  FOR EACH STATEMENT EXECUTE FUNCTION segment_objects_rows_removed();
