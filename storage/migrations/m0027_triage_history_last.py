"""The triage order knows the event types and the history that came after migration 20: `hidden` and `moved` rank with removals, and history found by backfill or import (`detail.historical`) gets a section of its own, last, as in digests (it is not today's news). Existing rows are ranked again."""

SQL = """
DROP VIEW event_ranking;
CREATE VIEW event_ranking AS
SELECT event_id,
    CASE WHEN historical THEN 4
         WHEN type IN ('removed', 'delisted', 'hidden', 'moved') THEN 0
         WHEN scrubbed_terms + removed_figures + new_figures + new_terms > 0 THEN 1
         WHEN type IN ('new_page', 'new_document') THEN 2
         ELSE 3 END AS section,
    min(scrubbed_terms + removed_figures + silent_edit, 99) * 10000 + min(new_figures, 99) * 100
        + min(new_terms, 99) AS score
FROM (
    SELECT e.id AS event_id, e.type, e.silent_edit,
        coalesce(json_extract(e.detail, '$.historical'), 0) AS historical,
        min((SELECT count(DISTINCT f.set_name || char(31) || f.term) FROM hit_flags f
             WHERE f.event_id = e.id AND f.kind = 'scrubbed'), 50) AS scrubbed_terms,
        min(coalesce(json_array_length(e.detail, '$.removed_figures'), 0), 50) AS removed_figures,
        min((SELECT count(*) FROM figures g WHERE g.first_event_id = e.id), 50) AS new_figures,
        min((SELECT count(DISTINCT f.set_name || char(31) || f.term) FROM hit_flags f
             WHERE f.event_id = e.id AND f.kind = 'new'), 50) AS new_terms
    FROM events e
);
INSERT OR REPLACE INTO event_triage (event_id, section, score) SELECT event_id, section, score FROM event_ranking
"""
