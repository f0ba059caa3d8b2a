-- outcomes counts an import run's settled items by outcome (JSON), kept
-- with the run's other counts so that reading a run's progress does not
-- count its items, which grow with the provider's customers.
ALTER TABLE sync_runs ADD COLUMN outcomes TEXT NOT NULL DEFAULT '{}';
UPDATE sync_runs SET outcomes = COALESCE((SELECT json_object_agg(s.outcome, s.n)::text
	FROM (SELECT outcome, COUNT(*) AS n FROM import_items i WHERE i.run_id = sync_runs.id AND outcome <> '' GROUP BY outcome) s), '{}')
WHERE mode = 'import';

-- A run's in-flight items are found from settled_seq, the lowest seq that
-- may still be in flight, through an index that starts there: the items
-- settled before it, and their dead index entries where nothing vacuums,
-- are never read again. A sync run's item seq is its customer's
-- sequential_id (the walk's order); an import item's is its place in the
-- run. Items from before take seq 0, at or above every settled_seq of 0.
-- sync_run_items_in_flight stays for the reconciler's look-ups by link;
-- nothing looks import items up by link.
ALTER TABLE sync_runs ADD COLUMN settled_seq BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sync_run_items ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
CREATE INDEX sync_run_items_in_flight_seq ON sync_run_items (run_id, seq) WHERE outcome = '';
DROP INDEX import_items_in_flight;
CREATE INDEX import_items_in_flight ON import_items (run_id, seq) WHERE outcome = '';
