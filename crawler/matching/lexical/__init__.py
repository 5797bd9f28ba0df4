"""The lexical matcher, used when an editor has given an event match terms.

BM25 over sentences with the editor's per-item terms in three languages and required entity
co-occurrence (`matcher` docstring). On the seed event with its terms file it scores P 0.98 /
R 0.94 (tests/test_matching.py), far above the term-free matcher on the same articles (P 0.45
/ R 0.50): where an editor has written terms, they are worth more than any learned guess, so
`crawler.matching.choose` sends such events here and every other event to the term-free
matcher in `crawler.matching.matcher`.
"""
