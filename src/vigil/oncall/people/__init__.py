"""People, how to reach them, teams and services."""
