"""Conventions shared by every pipeline family: default_args, Slack alerts, Params, project paths."""
