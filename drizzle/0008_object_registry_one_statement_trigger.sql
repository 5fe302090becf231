-- Hand-written (drizzle-kit generate --custom): the insert trigger of 0007 in one statement instead of
-- three. The upsert locks the objects in key order (as the separate lock did) and skips objects being
-- deleted; fewer rows written than keys named means one was being deleted: the statement fails.
-- size_bytes grows to the end of the last chunk named: objects reserved before their upload (the writer
-- registers keys 16 at a time, size unknown) get their size from their first commit.
CREATE OR REPLACE FUNCTION segment_objects_rows_added() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  now_ms bigint := (floor(extract(epoch from now()) * 1000))::bigint;
  written int;
  named int;
BEGIN
  INSERT INTO segment_objects AS o (key, bucket, state, size_bytes, live_bytes, ref_count, agent_id, created_at, state_changed_at)
  SELECT s3_key, min(s3_bucket), 'live', max(byte_position + byte_length), sum(byte_length), count(*), '', now_ms, now_ms
  FROM added_rows GROUP BY s3_key ORDER BY s3_key
  ON CONFLICT (key) DO UPDATE SET
    size_bytes = greatest(o.size_bytes, excluded.size_bytes),
    live_bytes = o.live_bytes + excluded.live_bytes,
    ref_count = o.ref_count + excluded.ref_count,
    state = 'live',
    state_changed_at = CASE WHEN o.state = 'live' THEN o.state_changed_at ELSE excluded.state_changed_at END
  WHERE o.state NOT IN ('deleting', 'deleted');
  GET DIAGNOSTICS written = ROW_COUNT;
  SELECT count(DISTINCT s3_key) INTO named FROM added_rows;
  IF written <> named THEN
    RAISE EXCEPTION 'a segment object named by these rows is being deleted (its upload was not committed in time); it cannot be referenced'
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN NULL;
END $$;
