CREATE TABLE "agents" (
	"agent_id" text PRIMARY KEY NOT NULL,
	"node_id" integer NOT NULL,
	"host" text NOT NULL,
	"port" integer NOT NULL,
	"rack" text,
	"last_heartbeat" bigint NOT NULL,
	"started_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "consumer_groups" (
	"group_id" text PRIMARY KEY NOT NULL,
	"state" text DEFAULT 'Empty' NOT NULL,
	"protocol_type" text,
	"protocol_name" text,
	"generation" integer DEFAULT 0 NOT NULL,
	"leader_id" text,
	"members" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "consumer_offsets" (
	"group_id" text NOT NULL,
	"topic" text NOT NULL,
	"partition_id" integer NOT NULL,
	"committed_offset" bigint NOT NULL,
	"leader_epoch" integer DEFAULT -1 NOT NULL,
	"metadata" text,
	"committed_at" bigint NOT NULL,
	CONSTRAINT "consumer_offsets_group_id_topic_partition_id_pk" PRIMARY KEY("group_id","topic","partition_id")
);
--> statement-breakpoint
CREATE TABLE "partition_leases" (
	"topic" text NOT NULL,
	"partition_id" integer NOT NULL,
	"leader_agent_id" text NOT NULL,
	"lease_expires_at" bigint NOT NULL,
	"acquired_at" bigint NOT NULL,
	"epoch" integer NOT NULL,
	CONSTRAINT "partition_leases_topic_partition_id_pk" PRIMARY KEY("topic","partition_id")
);
--> statement-breakpoint
CREATE TABLE "partitions" (
	"topic" text NOT NULL,
	"partition_id" integer NOT NULL,
	"high_watermark" bigint DEFAULT 0 NOT NULL,
	"log_start_offset" bigint DEFAULT 0 NOT NULL,
	"leader_epoch" integer DEFAULT 0 NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "partitions_topic_partition_id_pk" PRIMARY KEY("topic","partition_id"),
	CONSTRAINT "partitions_offsets_valid" CHECK (0 <= "partitions"."log_start_offset" AND "partitions"."log_start_offset" <= "partitions"."high_watermark")
);
--> statement-breakpoint
CREATE TABLE "segments" (
	"id" text PRIMARY KEY NOT NULL,
	"topic" text NOT NULL,
	"partition_id" integer NOT NULL,
	"base_offset" bigint NOT NULL,
	"end_offset" bigint NOT NULL,
	"record_count" integer NOT NULL,
	"size_bytes" bigint NOT NULL,
	"s3_bucket" text NOT NULL,
	"s3_key" text NOT NULL,
	"byte_position" bigint NOT NULL,
	"byte_length" bigint NOT NULL,
	"max_timestamp" bigint NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "segments_offsets_valid" CHECK ("segments"."base_offset" <= "segments"."end_offset")
);
--> statement-breakpoint
CREATE TABLE "topics" (
	"name" text PRIMARY KEY NOT NULL,
	"topic_id" uuid DEFAULT gen_random_uuid() NOT NULL,
	"partition_count" integer NOT NULL,
	"retention_ms" bigint,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"config" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "topics_partition_count_positive" CHECK ("topics"."partition_count" > 0)
);
--> statement-breakpoint
ALTER TABLE "partition_leases" ADD CONSTRAINT "partition_leases_topic_partition_id_partitions_topic_partition_id_fk" FOREIGN KEY ("topic","partition_id") REFERENCES "public"."partitions"("topic","partition_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "partitions" ADD CONSTRAINT "partitions_topic_topics_name_fk" FOREIGN KEY ("topic") REFERENCES "public"."topics"("name") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "segments" ADD CONSTRAINT "segments_topic_partition_id_partitions_topic_partition_id_fk" FOREIGN KEY ("topic","partition_id") REFERENCES "public"."partitions"("topic","partition_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "agents_node_id_key" ON "agents" USING btree ("node_id");--> statement-breakpoint
CREATE INDEX "idx_consumer_offsets_topic" ON "consumer_offsets" USING btree ("topic");--> statement-breakpoint
CREATE INDEX "idx_partition_leases_leader" ON "partition_leases" USING btree ("leader_agent_id");--> statement-breakpoint
CREATE INDEX "idx_segments_offset_range" ON "segments" USING btree ("topic","partition_id","base_offset","end_offset");--> statement-breakpoint
CREATE UNIQUE INDEX "topics_topic_id_key" ON "topics" USING btree ("topic_id");