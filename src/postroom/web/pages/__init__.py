"""Server-rendered pages, one router module per area."""
