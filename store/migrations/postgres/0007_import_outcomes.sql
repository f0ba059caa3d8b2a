-- outcomes counts an import run's settled items by outcome (JSON), kept
-- with the run's other counts so that reading a run's progress does not
-- count its items, which grow with the provider's customers.
ALTER TABLE sync_runs ADD COLUMN outcomes TEXT NOT NULL DEFAULT '{}';
UPDATE sync_runs SET outcomes = COALESCE((SELECT json_object_agg(s.outcome, s.n)::text
	FROM (SELECT outcome, COUNT(*) AS n FROM import_items i WHERE i.run_id = sync_runs.id AND outcome <> '' GROUP BY outcome) s), '{}')
WHERE mode = 'import';
