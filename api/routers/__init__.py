"""The API's routes, one module per part of the seed's section 4 (docs/seed-api.md)."""
