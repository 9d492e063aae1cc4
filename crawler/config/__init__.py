"""Configuration: the watchlist model and its validation, settings and where they come from,
the digest section, crontab schedules."""
