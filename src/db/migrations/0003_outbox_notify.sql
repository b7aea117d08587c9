-- Every committed outbox row wakes the relay on whichever replica holds it: NOTIFY from a trigger
-- (delivered at commit, like a NOTIFY statement in the transaction) rather than one more statement
-- per event from the gateway. The payload names the row: "<database identity> <outbox id>".
CREATE FUNCTION "streamgate_outbox_notify"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('streamgate_outbox', (SELECT "id" FROM "database_identity") || ' ' || NEW."id");
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER "outbox_notify" AFTER INSERT ON "outbox" FOR EACH ROW EXECUTE FUNCTION "streamgate_outbox_notify"();
