"""What the deployed pipeline did: log lines, executions, and the follower behind `detect`
and `results`. Reads only."""
