"""Each page's keyframes (the bodies stored whole) in an index of their own: a new version finds the keyframe it is compressed against by one lookup, not by reading each delta stored since, which made every new version of a page cost more than the one before."""

# A page that changes a little each time keeps one keyframe for hundreds of versions: the
# lookup walked snapshots_page back from the newest version and read each row (its codec sits
# after the text and the body) until it reached one; 2,000 deltas cost 12,000 SQLite steps
# against none. Partial: only keyframes (a page's first body, and one each time a body shares
# too little with the last) enter it. storage/bodies.py names the codecs as written here.
SQL = """
CREATE INDEX snapshots_page_keyframe ON snapshots(page_id, id) WHERE body_codec IN ('zlib', 'zstd')
"""
