"""The command line: parse arguments, render answers, map every ending to its exit code.

Nothing else lives here: each command's work is in releasectl.commands."""
