"""SQL storage: models, engine, migrations and the repository functions."""
