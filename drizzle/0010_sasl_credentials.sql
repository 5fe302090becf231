CREATE TABLE "user_credentials" (
	"user_name" text NOT NULL,
	"mechanism" text NOT NULL,
	"salt" "bytea" NOT NULL,
	"iterations" integer NOT NULL,
	"stored_key" "bytea" NOT NULL,
	"server_key" "bytea" NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "user_credentials_user_name_mechanism_pk" PRIMARY KEY("user_name","mechanism"),
	CONSTRAINT "user_credentials_mechanism_check" CHECK ("user_credentials"."mechanism" IN ('SCRAM-SHA-256', 'SCRAM-SHA-512', 'PLAIN'))
);
--> statement-breakpoint
ALTER TABLE "agents" ADD COLUMN "listeners" text;