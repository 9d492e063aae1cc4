"""Extract stage: decode the bytes, pull out the article (or a document's text), and turn one
answer into the comparable record that storage keeps (capture)."""
