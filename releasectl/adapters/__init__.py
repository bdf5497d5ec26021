"""The boundaries to the outside: AWS (aws/), git (git.py, the only code that runs git), docker."""
