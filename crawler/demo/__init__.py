"""The offline demo: the seed card, replayed outlet pages in two states, and the replay server.

- `replay`: a local HTTP server that serves `pages/<state>/<host>/…` (and the test fixtures)
  with ETags, 304s, errors, redirects and removals as `routes.yaml` says, on 127.0.0.1 only.
- `run`: `watchdesk demo`: start the replay, add the card, crawl, switch state, crawl, discover,
  report.
"""
