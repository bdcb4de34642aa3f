"""The concierge service: one conversation turn = load memory, let the brain answer, remember both lines."""

from __future__ import annotations

import logging
import uuid

from concierge.brain.base import Brain
from concierge.brain.memory import Conversation, ConversationStore, MemoryUnavailable
from concierge.brain.reply import Reply
from concierge.brain.text import clean_utterance

log = logging.getLogger("apoena.concierge")


class Concierge:
    """Serves conversations by id. A memory failure mid-conversation is logged, never raised:
    the conversation goes on from this process's own copy."""

    def __init__(self, brain: Brain, store: ConversationStore) -> None:
        self.brain = brain
        self.store = store
        self._local: dict[str, Conversation] = {}

    @staticmethod
    def new_conversation_id() -> str:
        return str(uuid.uuid4())

    def conversation(self, conversation_id: str) -> Conversation:
        """The stored conversation, or a new empty one."""
        try:
            stored = self.store.load(conversation_id)
        except MemoryUnavailable as error:
            log.warning("%s; using this process's copy of %s", error, conversation_id)
            stored = None
        return self._local.get(conversation_id) or stored or Conversation(id=conversation_id)

    def respond(self, conversation_id: str, utterance: str) -> Reply:
        conversation = self.conversation(conversation_id)
        conversation.add("visitor", clean_utterance(utterance, limit=2000))
        reply = self.brain.respond(conversation, utterance)
        conversation.add("concierge", reply.mensagem)
        self._remember(conversation)
        return reply

    def note(self, conversation_id: str, text: str) -> None:
        """Add a system line (call events, DTMF) to the conversation's history."""
        conversation = self.conversation(conversation_id)
        conversation.add("system", text)
        self._remember(conversation)

    def _remember(self, conversation: Conversation) -> None:
        self._local[conversation.id] = conversation
        try:
            self.store.save(conversation)
        except MemoryUnavailable as error:
            log.warning("%s; keeping %s in this process only", error, conversation.id)
            return
        self._local.pop(conversation.id, None)
