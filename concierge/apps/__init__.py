"""One module per command: each wires the lower floors into that command's job."""
