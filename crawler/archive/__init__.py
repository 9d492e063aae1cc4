"""Archive stage: local WARC files (`warc`), the Wayback Machine client (`wayback`), the archive
queue worker (`queue`), and evidence packages (`wacz`, signed by `signing`)."""
