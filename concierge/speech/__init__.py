"""Speech engines behind the Transcriber and Synthesizer protocols."""

from concierge.speech.base import SpeechError, Synthesizer, Transcriber, Transcript
from concierge.speech.factory import make_synthesizer, make_transcriber

__all__ = ["SpeechError", "Synthesizer", "Transcriber", "Transcript", "make_synthesizer", "make_transcriber"]
