"""Events: the typed values of SPEC §4 and the strict JSON Lines reader that produces them."""
