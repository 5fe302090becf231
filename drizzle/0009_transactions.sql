CREATE TABLE "aborted_txns" (
	"topic" text NOT NULL,
	"partition_id" integer NOT NULL,
	"producer_id" bigint NOT NULL,
	"first_offset" bigint NOT NULL,
	"last_offset" bigint,
	CONSTRAINT "aborted_txns_topic_partition_id_producer_id_first_offset_pk" PRIMARY KEY("topic","partition_id","producer_id","first_offset")
);
--> statement-breakpoint
CREATE TABLE "transactions" (
	"transactional_id" text PRIMARY KEY NOT NULL,
	"shard" integer NOT NULL,
	"producer_id" bigint NOT NULL,
	"producer_epoch" integer NOT NULL,
	"state" text NOT NULL,
	"timeout_ms" integer NOT NULL,
	"partitions" json DEFAULT '[]'::json NOT NULL,
	"groups" json DEFAULT '[]'::json NOT NULL,
	"started_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "txn_offsets" (
	"transactional_id" text NOT NULL,
	"group_id" text NOT NULL,
	"topic" text NOT NULL,
	"partition_id" integer NOT NULL,
	"producer_id" bigint NOT NULL,
	"committed_offset" bigint NOT NULL,
	"leader_epoch" integer NOT NULL,
	"metadata" text,
	"committed_at" bigint NOT NULL,
	CONSTRAINT "txn_offsets_transactional_id_group_id_topic_partition_id_pk" PRIMARY KEY("transactional_id","group_id","topic","partition_id")
);
--> statement-breakpoint
ALTER TABLE "aborted_txns" ADD CONSTRAINT "aborted_txns_topic_partition_id_partitions_topic_partition_id_fk" FOREIGN KEY ("topic","partition_id") REFERENCES "public"."partitions"("topic","partition_id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idx_transactions_shard_state" ON "transactions" USING btree ("shard","state");--> statement-breakpoint
CREATE INDEX "idx_transactions_producer" ON "transactions" USING btree ("producer_id");--> statement-breakpoint
CREATE INDEX "idx_txn_offsets_group" ON "txn_offsets" USING btree ("group_id");