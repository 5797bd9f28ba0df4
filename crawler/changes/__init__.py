"""Stage 5, changes: two versions of an article in, a `Diff` and a classified `Change` out.

- `segment`: words, sentences and keys (jieba words for Chinese) shared by both steps.
- `diffing`: paragraphs aligned first, then a word diff with diff-match-patch inside changed
  paragraphs; moves stay moves, unrelated bodies are "rewritten".
- `classify`: the change kind (headline, correction, edit, minor, cosmetic, byline, dates,
  removed, restored, reverted, rebaselined) and whether it is significant.
- `baseline`: whether a candidate may become the baseline (suspect pages and their
  confirmation, decoding-only differences).

Pure: no Scrapy, no SQLAlchemy.
"""
