CREATE TABLE "coordinator_leases" (
	"shard" integer PRIMARY KEY NOT NULL,
	"leader_agent_id" text NOT NULL,
	"lease_expires_at" bigint NOT NULL,
	"acquired_at" bigint NOT NULL,
	"epoch" integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX "idx_coordinator_leases_leader" ON "coordinator_leases" USING btree ("leader_agent_id");