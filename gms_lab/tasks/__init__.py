"""Generation tasks: pipeline registry, quality dispatcher, runners, Celery tasks, records."""
