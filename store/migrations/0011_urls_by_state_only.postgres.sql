-- URLs are only ever looked up by time within a state (failures, stale claims), which urls_state (state,
-- updated_at) serves; an index on updated_at alone cost every URL state change a page write, and with planner
-- statistics SQLite preferred walking it for `state IN (...) ORDER BY updated_at`, testing every URL (484 ms to
-- list the failures among a million stored URLs).
DROP INDEX IF EXISTS urls_updated_at;  -- IF EXISTS: an operator may have dropped it already
