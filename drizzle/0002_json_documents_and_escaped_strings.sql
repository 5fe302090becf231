ALTER TABLE "consumer_groups" ALTER COLUMN "members" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "consumer_groups" ALTER COLUMN "members" SET DEFAULT '[]'::json;--> statement-breakpoint
ALTER TABLE "topics" ALTER COLUMN "config" SET DATA TYPE json;--> statement-breakpoint
ALTER TABLE "topics" ALTER COLUMN "config" SET DEFAULT '{}'::json;--> statement-breakpoint
-- Client strings in text columns are stored escaped from now on (metadata/stored-text.ts): U+0001 becomes
-- U+0001 '1' and NUL becomes U+0001 '0'. Rows written before hold no NUL (PostgreSQL refused it); any
-- U+0001 they hold is escaped here so that it reads back unchanged.
UPDATE "consumer_groups" SET
  "group_id" = replace("group_id", chr(1), chr(1) || '1'),
  "protocol_type" = replace("protocol_type", chr(1), chr(1) || '1'),
  "protocol_name" = replace("protocol_name", chr(1), chr(1) || '1'),
  "leader_id" = replace("leader_id", chr(1), chr(1) || '1')
WHERE strpos("group_id" || coalesce("protocol_type", '') || coalesce("protocol_name", '') || coalesce("leader_id", ''), chr(1)) > 0;--> statement-breakpoint
UPDATE "consumer_offsets" SET
  "group_id" = replace("group_id", chr(1), chr(1) || '1'),
  "metadata" = replace("metadata", chr(1), chr(1) || '1')
WHERE strpos("group_id" || coalesce("metadata", ''), chr(1)) > 0;
