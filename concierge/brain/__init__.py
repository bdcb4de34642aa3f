"""What the concierge says: the reply contract, the brains, conversation memory, the directory."""
