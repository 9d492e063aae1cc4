"""A source's pages gone lately (removed, missing, failing, delisted), found through indexes of their own, and its list pages without its articles: a new page asks whether it is a gone page that moved, and a delisted article which list page showed it last; both questions read every page of the source, so a cold crawl of one source of thousands of articles grew with the square of its size."""

# Measured with bench/stages.py (one source): the lookup cost 0.22 ms a page over 400 new pages
# and 0.59 over 1,600, ≈ 0.7 µs for each page of the source already stored; a county site of
# 20,000 articles would have spent minutes in it. Only gone pages enter the first index, by
# source and last activity; the second finds a period's delistings without reading older ones;
# pages_source by kind finds a source's few list pages among its thousands of articles.
SQL = """
DROP INDEX pages_source;
CREATE INDEX pages_source ON pages(source_id, kind);
CREATE INDEX pages_gone ON pages(source_id, kind, coalesce(last_fetched, first_seen))
    WHERE state IN ('removed', 'missing') OR error_count > 0;
CREATE INDEX events_type_detected ON events(type, detected_at)
"""
