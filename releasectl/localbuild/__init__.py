"""buildspec.yml on this machine: its model, the phase runner, the shell, the clean checkout."""
