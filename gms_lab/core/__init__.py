"""The studio's domain: workspace, projects, hierarchy, assets, git. No tornado, no celery."""
