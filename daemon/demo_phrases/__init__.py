"""The phrases `improvd demo` plays: copies of a few hand-written calls of tests/data/calls
(written by its make_calls.py), shipped inside the package so an installed improvd has them."""
