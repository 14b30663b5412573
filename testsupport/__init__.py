"""Support shared by the tests and the benchmarks (never by the daemon): a MIDI peer on JACK,
`improvd run` as a subprocess, a random-weights model that meets the artifact contract.
Installed with the project as improvd.testsupport so that neither tests/ nor bench/ imports the
other."""
