CREATE TABLE "acls" (
	"resource_type" text NOT NULL,
	"pattern_type" text NOT NULL,
	"resource_name" text NOT NULL,
	"principal" text NOT NULL,
	"host" text NOT NULL,
	"operation" text NOT NULL,
	"permission_type" text NOT NULL,
	"created_at" bigint NOT NULL,
	CONSTRAINT "acls_pkey" PRIMARY KEY("resource_type","pattern_type","resource_name","principal","host","operation","permission_type"),
	CONSTRAINT "acls_resource_type_valid" CHECK ("acls"."resource_type" IN ('topic', 'group', 'cluster', 'transactional_id', 'delegation_token', 'user')),
	CONSTRAINT "acls_pattern_type_valid" CHECK ("acls"."pattern_type" IN ('literal', 'prefixed')),
	CONSTRAINT "acls_operation_valid" CHECK ("acls"."operation" IN ('all', 'read', 'write', 'create', 'delete', 'alter', 'describe', 'cluster_action', 'describe_configs', 'alter_configs', 'idempotent_write', 'create_tokens', 'describe_tokens')),
	CONSTRAINT "acls_permission_type_valid" CHECK ("acls"."permission_type" IN ('allow', 'deny'))
);
