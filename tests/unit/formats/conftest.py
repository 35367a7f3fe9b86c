from tests.unit.seccomp.conftest import recordings  # noqa: F401 - the same sample recordings
