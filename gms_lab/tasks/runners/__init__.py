"""Runners: pipeline programs as local processes or Docker containers, kept warm in a pool."""
