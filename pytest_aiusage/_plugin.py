"""The pytest plugin (entry point ``aiusage``)."""
