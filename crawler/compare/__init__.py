"""Pure functions over text: tidy and normalise, split sentences, diff, match keywords, extract figures.

Nothing here touches Scrapy, the network or the database, so every rule is unit-testable. Each
is imported from its own module (`crawler.compare.keywords`, …): a command that reads only the
watchlist's keyword sets does not load the figures' patterns or the diff.
"""
