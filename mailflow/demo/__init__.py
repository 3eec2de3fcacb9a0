"""``mailflow demo``: the real daemon code path over sample mail, in a temp folder."""
