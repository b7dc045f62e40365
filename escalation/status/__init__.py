"""The public status page (step 5, self-served).

Components are the parts of the product users see. A tech lead or on-duty
person publishes an incident with public words (never the internal ones) and
posts public updates; confirmed subscribers hear of each by mail or by a group
robot, and the `resolved` mail asks the affected user for a rating that lands on
the incident (incidents.UserFeedback). Public maintenance windows appear as
scheduled maintenance.

- models: Component, Publication, PublicUpdate, Subscriber, StatusMessage,
  FeedbackRequest, StatusPage (the version publishing bumps: the cache key);
- services: the writes (components, publishing, updates);
- selectors: what the public page shows, built once per version and language.
"""
