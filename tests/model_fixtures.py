"""The random-weights fixture model, for the tests that import it by this module's name; it lives
in improvd.testsupport.random_model, shared with the benchmarks."""

from improvd.testsupport.random_model import (  # noqa: F401 - re-exported
    SHIPPED_MODEL,
    make_random_recurrent_model,
    model_for_tests,
)
