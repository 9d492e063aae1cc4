"""The review workbench (`docwatch serve`): a local web app where researchers triage events,
read diffs and evidence, search every version of every page and record their review work.

Server-rendered HTML (Starlette, Jinja2 with autoescaping), a little vanilla JavaScript, nothing
fetched from elsewhere. It reads the database read-only; only review work (reviewed, tags,
notes: storage/reviews.py) is written, and only by a form carrying the CSRF token.
"""

from crawler.workbench.app import make_app

__all__ = ["make_app"]
