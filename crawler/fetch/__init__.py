"""Stage 2, fetch policy: what may be requested and what one check of a page means.

- `urls`: the fetchable canonical form of a URL, its identity key, outlet hosts, the host map.
- `guard`: the address guard (is a host public, in any notation, resolved or connected to).
- `outcomes`: the fetch state machine (status, body and history in; new version, unchanged,
  not modified, transient failure, gone, removed, restored out).

The Scrapy mechanism that uses these (middlewares, download handler) sits at the top of
`crawler/`; this package is plain functions on plain values.
"""
