"""Digests: what a researcher reads each morning. The events since a moment, most important
first (removed pages, new figures and hits, new pages, the rest), each with its hits, figures,
diff, archive links and a citation, as Markdown, HTML, JSON, Atom or an email.

`build_digest` makes the model (`model.py`), `render` turns it into text (`render.py`),
`deliver.py` sends it where it goes and records it for `--since last`. Import from those
modules: this package imports none of them, so that a command using one (`docwatch events`
uses the model's summaries) does not load the templates and mail of the others.
"""
