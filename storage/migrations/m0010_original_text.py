"""Quotes in the page's own characters (snapshots.original_text), and one figures row per figure the page states, with every term near it (figures.terms)."""

# `original_text` is the text as the page writes it (，（：, full-width digits, traditional
# characters), which hits, figures, diffs and `show` quote; `text` stays the normalised form
# hashed into text_sha256. Snapshots stored before have no original_text: their `text` stands in.
# A figure was keyed `term|unit|value`, so one stated figure near two terms had two rows; it is
# keyed `unit|value` now. The rows of one figure merge into the one that gives a completion
# rate (else the oldest): first seen earliest, last seen latest, present if any row was, its
# first event the earliest, and `terms` (JSON) lists every term, the kept row's first.
SQL = """
ALTER TABLE snapshots ADD COLUMN original_text TEXT;
ALTER TABLE figures ADD COLUMN terms TEXT NOT NULL DEFAULT '[]';
CREATE TEMP TABLE figure_rows AS
    SELECT id, page_id, new_key, term, first_seen, last_seen, present,
           row_number() OVER (PARTITION BY page_id, new_key ORDER BY rate IS NULL, id) AS rank,
           first_value(first_event_id) OVER (PARTITION BY page_id, new_key ORDER BY first_seen, id) AS earliest_event
    FROM (SELECT *, substr(figure_key, instr(figure_key, '|') + 1) AS new_key FROM figures);
CREATE TEMP TABLE figure_merged AS
    SELECT kept.id, kept.earliest_event,
           (SELECT min(r.first_seen) FROM figure_rows r WHERE r.page_id = kept.page_id AND r.new_key = kept.new_key)
               AS first_seen,
           (SELECT max(r.last_seen) FROM figure_rows r WHERE r.page_id = kept.page_id AND r.new_key = kept.new_key)
               AS last_seen,
           (SELECT max(r.present) FROM figure_rows r WHERE r.page_id = kept.page_id AND r.new_key = kept.new_key)
               AS present,
           kept.new_key
    FROM figure_rows kept WHERE kept.rank = 1;
CREATE TEMP TABLE figure_terms AS
    SELECT id, json_group_array(term) AS terms FROM (
        SELECT kept.id, r.term FROM figure_rows kept
        JOIN figure_rows r ON r.page_id = kept.page_id AND r.new_key = kept.new_key
        WHERE kept.rank = 1
        GROUP BY kept.id, r.term ORDER BY kept.id, max(r.term = kept.term) DESC, min(r.id))
    GROUP BY id;
DELETE FROM figures WHERE id NOT IN (SELECT id FROM figure_merged);
UPDATE figures SET
    figure_key = (SELECT m.new_key FROM figure_merged m WHERE m.id = figures.id),
    first_seen = (SELECT m.first_seen FROM figure_merged m WHERE m.id = figures.id),
    last_seen = (SELECT m.last_seen FROM figure_merged m WHERE m.id = figures.id),
    present = (SELECT m.present FROM figure_merged m WHERE m.id = figures.id),
    first_event_id = (SELECT m.earliest_event FROM figure_merged m WHERE m.id = figures.id),
    terms = (SELECT t.terms FROM figure_terms t WHERE t.id = figures.id);
DROP TABLE figure_rows;
DROP TABLE figure_merged;
DROP TABLE figure_terms
"""
