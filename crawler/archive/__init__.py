"""Archive stage: local WARC files (`warc`), the Wayback Machine client (`wayback`) and the archive queue worker (`queue`)."""
