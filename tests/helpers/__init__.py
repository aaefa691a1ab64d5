"""What the test modules share, in modules named for what they hold.

A tests/test_*.py module takes what it shares from here or from tests/conftest.py, never from
another test module; tests/test_layout.py checks that, and that every helper here says what it
is for. pytest rewrites the asserts in these modules as in a test module (tests/conftest.py asks
it to). The fakes of the services (tests/fake_*.py) and tests/pgserver.py stay where the README
and ARCHITECTURE.md name them."""
