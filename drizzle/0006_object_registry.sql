CREATE TABLE "segment_objects" (
	"key" text PRIMARY KEY NOT NULL,
	"bucket" text NOT NULL,
	"state" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"live_bytes" bigint DEFAULT 0 NOT NULL,
	"ref_count" integer DEFAULT 0 NOT NULL,
	"agent_id" text DEFAULT '' NOT NULL,
	"created_at" bigint NOT NULL,
	"state_changed_at" bigint NOT NULL,
	CONSTRAINT "segment_objects_state_valid" CHECK ("segment_objects"."state" IN ('pending', 'live', 'unreferenced', 'deleting', 'deleted')),
	CONSTRAINT "segment_objects_counts_valid" CHECK ("segment_objects"."ref_count" >= 0 AND "segment_objects"."live_bytes" >= 0)
);
--> statement-breakpoint
CREATE INDEX "idx_segment_objects_cleanup" ON "segment_objects" USING btree ("state","state_changed_at") WHERE "segment_objects"."ref_count" = 0;