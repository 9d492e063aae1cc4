"""Running crawls: one crawl run (runner), the unattended daemon, the progress bar."""
