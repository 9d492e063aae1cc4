"""The runs still marked running in an index of their own: each crawl starts by asking which of them were left by a process that died, and read every run the database ever recorded to find them."""

# A daemon of a few dozen sources starts a crawl process every few minutes: tens of thousands
# of runs in two years, all read by each start (20,000 finished runs: 60,000 SQLite steps to
# find none running; now under 100). Partial: a run leaves it when it finishes.
SQL = """
CREATE INDEX runs_running ON runs(status) WHERE status = 'running'
"""
