"""PCM helpers, the real-time pacer and the voice-activity endpointer."""
