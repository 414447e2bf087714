-- Batches one behind the other. The broker sends its next batch into the
-- write connection's pipeline while the previous one is still running
-- (BK_STORE_FLIGHT_MAX, broker/bk_store.h), so PostgreSQL starts it as soon as
-- the previous COMMIT returns. Each batch has its own sync, so PostgreSQL
-- would run it even when the one before failed, and it may depend on that
-- one (the next event of an order whose earlier event was in it). So every
-- batch starts with pls_batch_after(prev, this): it refuses to go on unless
-- the batch named prev committed in this session, and records `this` as
-- committed-to-be. The record is a session setting: when the transaction
-- aborts, PostgreSQL puts the setting back, and the batch behind it fails
-- here. prev is '' for a batch sent with none before it in flight.
CREATE FUNCTION pls_batch_after(prev text, this text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF prev <> '' AND current_setting('pls.batch', true) IS DISTINCT FROM prev THEN
        RAISE EXCEPTION 'batch % follows batch %, which did not commit', this, prev
            USING ERRCODE = 'P0001';
    END IF;
    PERFORM set_config('pls.batch', this, false);
END $$;
