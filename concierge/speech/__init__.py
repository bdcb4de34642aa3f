"""Speech engines behind the Transcriber and Synthesizer protocols."""
