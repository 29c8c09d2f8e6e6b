"""pytest_aiusage: the pytest plugin of pytest-aiusage."""
