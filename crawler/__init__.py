"""watchdesk: event cards in, reports on what changed in their cited sources out.

The Scrapy project sits at the top of this package, as `scrapy startproject` lays it out
(`settings`, `items`, `middlewares`, `pipelines`, plus `handlers`, `extensions`, `config`,
`running`); each stage of the data flow is a subpackage, in order: `cards` → `fetch` →
`extract` → (`storage/` versions) → `changes` → `matching` → `reports`, with `discovery` for
follow-ups, `cli` for the command line and `demo` for the offline demo.
"""
