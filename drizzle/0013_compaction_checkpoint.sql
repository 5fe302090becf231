CREATE TABLE "compaction_checkpoints" (
	"topic" text NOT NULL,
	"partition_id" integer NOT NULL,
	"first_dirty_offset" bigint NOT NULL,
	"delete_horizon" bigint,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "compaction_checkpoints_topic_partition_id_pk" PRIMARY KEY("topic","partition_id"),
	CONSTRAINT "compaction_checkpoints_offset_valid" CHECK ("compaction_checkpoints"."first_dirty_offset" >= 0)
);
--> statement-breakpoint
ALTER TABLE "compaction_checkpoints" ADD CONSTRAINT "compaction_checkpoints_topic_partition_id_partitions_topic_partition_id_fk" FOREIGN KEY ("topic","partition_id") REFERENCES "public"."partitions"("topic","partition_id") ON DELETE cascade ON UPDATE no action;