"""Command groups that live in their own modules (one per concept), registered in crawler.cli."""
