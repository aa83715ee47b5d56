"""Postroom: a recruiting CRM whose heart is 24/7 IMAP synchronisation.

Layers (enforced by import-linter, see docs/architecture.md)::

    cli  ->  services  ->  store  ->  mail  ->  domain
                                         (pure: no I/O, no database)
"""

__version__ = "0.1.0"
