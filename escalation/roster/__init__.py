"""Duty rosters (值班表): who of a team is on call, layer by layer.

models (loaded by escalation.models), arithmetic (the schedule worked out from
rotations and overrides; Roster.on_call is the one way to ask who is on call),
services (writes), selectors (reads), sweep (handovers, gaps), ical (feeds),
forms, views (the /oncall/ pages) and api (/api/v1/teams/{slug}/...).

Nothing is imported here: the models load while the app registry fills.
"""
