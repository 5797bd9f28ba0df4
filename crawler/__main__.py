"""`python -m crawler` is the `watchdesk` command."""

from crawler.cli import main

main()
