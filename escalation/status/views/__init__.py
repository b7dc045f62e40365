"""The public side of the status page: no sign-in.

- public: the page, index.json, the feeds and the badge (cached by version);
- subscribe: subscribing (double opt-in), confirming, unsubscribing (RFC 8058);
- feedback: an affected user's rating from the resolved mail's link.
"""
