CREATE TABLE "database_identity" (
	"singleton" boolean PRIMARY KEY DEFAULT true NOT NULL,
	"id" text NOT NULL,
	"previous_id" text,
	"database_oid" bigint NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "database_identity_singleton" CHECK ("database_identity"."singleton")
);
--> statement-breakpoint
-- The identity of this database, minted as it is created (seed mints a new one when it replaces the data).
INSERT INTO "database_identity" ("id", "database_oid")
SELECT substr(md5(random()::text || clock_timestamp()::text), 1, 16), "oid"::bigint FROM "pg_database" WHERE "datname" = current_database();
