"""Review work on events (tags, a note) and each event's place in the triage queue (section and score, kept in step by triggers), with the indexes that find an event's hits and figures and the queue's filters."""

# `event_ranking` is the digest's order in SQL (crawler/report/model.py: the section an event
# goes in, and DigestEvent.score): removed or unlinked pages (0), events with new or scrubbed
# hits or figures (1), new pages (2), the rest (3); within a section, taken back (distinct
# scrubbed terms + figures no longer stated + a silent edit) × 10000 + new figures × 100 + new
# terms, each count capped as the digest caps it. `event_triage` keeps it per event, so the
# workbench's queue is read in index order; the triggers update it whenever an event, a hit flag
# or a figure is recorded, whichever code path writes them, and the INSERT at the end fills it
# for the events of an existing database.
SQL = """
CREATE TABLE event_tags (
    event_id INTEGER NOT NULL REFERENCES events(id),
    tag TEXT NOT NULL,
    tagged_at TEXT NOT NULL,
    PRIMARY KEY (event_id, tag)
) WITHOUT ROWID;
CREATE INDEX event_tags_tag ON event_tags(tag, event_id);
CREATE TABLE event_notes (
    event_id INTEGER PRIMARY KEY REFERENCES events(id),
    note TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX hit_flags_event ON hit_flags(event_id, kind);
CREATE INDEX figures_first_event ON figures(first_event_id);
CREATE INDEX events_reviewed ON events(reviewed_at);
CREATE INDEX events_source ON events(source_id, reviewed_at);
CREATE INDEX events_type ON events(type, reviewed_at);
CREATE VIEW event_ranking AS
SELECT event_id,
    CASE WHEN type IN ('removed', 'delisted') THEN 0
         WHEN scrubbed_terms + removed_figures + new_figures + new_terms > 0 THEN 1
         WHEN type IN ('new_page', 'new_document') THEN 2
         ELSE 3 END AS section,
    min(scrubbed_terms + removed_figures + silent_edit, 99) * 10000 + min(new_figures, 99) * 100
        + min(new_terms, 99) AS score
FROM (
    SELECT e.id AS event_id, e.type, e.silent_edit,
        min((SELECT count(DISTINCT f.set_name || char(31) || f.term) FROM hit_flags f
             WHERE f.event_id = e.id AND f.kind = 'scrubbed'), 50) AS scrubbed_terms,
        min(coalesce(json_array_length(e.detail, '$.removed_figures'), 0), 50) AS removed_figures,
        min((SELECT count(*) FROM figures g WHERE g.first_event_id = e.id), 50) AS new_figures,
        min((SELECT count(DISTINCT f.set_name || char(31) || f.term) FROM hit_flags f
             WHERE f.event_id = e.id AND f.kind = 'new'), 50) AS new_terms
    FROM events e
);
CREATE TABLE event_triage (
    event_id INTEGER PRIMARY KEY REFERENCES events(id),
    section INTEGER NOT NULL,
    score INTEGER NOT NULL
);
CREATE INDEX event_triage_order ON event_triage(section, score DESC, event_id DESC);
CREATE TRIGGER event_triage_on_event AFTER INSERT ON events BEGIN
    INSERT OR REPLACE INTO event_triage (event_id, section, score)
        SELECT event_id, section, score FROM event_ranking WHERE event_id = NEW.id;
END;
CREATE TRIGGER event_triage_on_hit_flag AFTER INSERT ON hit_flags WHEN NEW.event_id IS NOT NULL BEGIN
    INSERT OR REPLACE INTO event_triage (event_id, section, score)
        SELECT event_id, section, score FROM event_ranking WHERE event_id = NEW.event_id;
END;
CREATE TRIGGER event_triage_on_figure AFTER INSERT ON figures WHEN NEW.first_event_id IS NOT NULL BEGIN
    INSERT OR REPLACE INTO event_triage (event_id, section, score)
        SELECT event_id, section, score FROM event_ranking WHERE event_id = NEW.first_event_id;
END;
INSERT INTO event_triage (event_id, section, score) SELECT event_id, section, score FROM event_ranking
"""
