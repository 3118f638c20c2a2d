"""Quality gate over the reference pipeline (a package so its modules share helpers)."""
