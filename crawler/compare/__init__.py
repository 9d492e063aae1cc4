"""Pure functions over text: normalise, split sentences, diff, match keywords, extract figures.

Nothing here touches Scrapy, the network or the database, so every rule is unit-testable.
"""
