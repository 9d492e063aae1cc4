"""An event's place in the triage order is computed once per write that changes it, not once per hit flag or figure row: the triggers on `hit_flags` and `figures` ranked the event again for every row (a page's first snapshot flags dozens of hits, each re-counting all the event's flags). The functions of storage/events.py that write flags or figures now rank the event once at their end; the trigger on `events` stays. Events recast as `moved` (whose rank no trigger followed) are ranked again."""

SQL = """
DROP TRIGGER event_triage_on_hit_flag;
DROP TRIGGER event_triage_on_figure;
INSERT OR REPLACE INTO event_triage (event_id, section, score)
    SELECT event_id, section, score FROM event_ranking WHERE event_id IN (SELECT id FROM events WHERE type = 'moved')
"""
