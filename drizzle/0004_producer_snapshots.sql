CREATE TABLE "producer_snapshots" (
	"topic" text NOT NULL,
	"partition_id" integer NOT NULL,
	"lease_epoch" integer NOT NULL,
	"end_offset" bigint NOT NULL,
	"state" "bytea" NOT NULL,
	"saved_at" bigint NOT NULL,
	CONSTRAINT "producer_snapshots_topic_partition_id_pk" PRIMARY KEY("topic","partition_id")
);
--> statement-breakpoint
ALTER TABLE "producer_snapshots" ADD CONSTRAINT "producer_snapshots_topic_partition_id_partitions_topic_partition_id_fk" FOREIGN KEY ("topic","partition_id") REFERENCES "public"."partitions"("topic","partition_id") ON DELETE cascade ON UPDATE no action;