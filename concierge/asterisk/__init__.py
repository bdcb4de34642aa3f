"""Asterisk beyond AudioSocket: the Manager Interface (AMI), to call residents and act on calls."""
