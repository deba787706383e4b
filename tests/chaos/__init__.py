"""The chaos suite: Baton as separate OS processes under SIGKILLs and restarts (``python -m tests.chaos``)."""
