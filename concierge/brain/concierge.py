"""The concierge service: one conversation turn = load memory, let the brain answer, remember both lines."""

from __future__ import annotations

import logging
import uuid
from collections import OrderedDict
from typing import Literal

from concierge.brain.base import Brain
from concierge.brain.memory import Conversation, ConversationStore, MemoryUnavailable
from concierge.brain.reply import Reply
from concierge.brain.text import clean_utterance

log = logging.getLogger("apoena.concierge")


class Concierge:
    """Serves conversations by id. A memory failure mid-conversation is logged, never raised:
    the conversation goes on from this process's own copy, saved again once Redis is back."""

    def __init__(self, brain: Brain, store: ConversationStore, keep_recent: int = 1000) -> None:
        self.brain = brain
        self.store = store
        self.keep_recent = keep_recent
        self._recent: OrderedDict[str, Conversation] = OrderedDict()
        self._unsaved: set[str] = set()

    @staticmethod
    def new_conversation_id() -> str:
        return str(uuid.uuid4())

    def conversation(self, conversation_id: str) -> Conversation:
        """The freshest copy: this process's when Redis missed its last save, else Redis's, else a new one."""
        recent = self._recent.get(conversation_id)
        if conversation_id in self._unsaved and recent is not None:
            return recent
        try:
            stored = self.store.load(conversation_id)
        except MemoryUnavailable as error:
            log.warning("%s; using this process's copy of %s", error, conversation_id)
            stored = None
        return stored or recent or Conversation(id=conversation_id)

    def respond(self, conversation_id: str, utterance: str, alternatives: tuple[str, ...] = ()) -> Reply:
        conversation = self.conversation(conversation_id)
        conversation.add("visitor", clean_utterance(utterance, limit=2000))
        reply = self.brain.respond(conversation, utterance, alternatives)
        conversation.add("concierge", reply.mensagem)
        self._remember(conversation)
        return reply

    def note(self, conversation_id: str, text: str, role: Literal["visitor", "concierge", "system"] = "system") -> None:
        """Add a line the brain did not produce (greeting, call events) to the conversation's history."""
        conversation = self.conversation(conversation_id)
        conversation.add(role, text)
        self._remember(conversation)

    def _remember(self, conversation: Conversation) -> None:
        self._recent[conversation.id] = conversation
        self._recent.move_to_end(conversation.id)
        while len(self._recent) > self.keep_recent:
            self._recent.popitem(last=False)
        try:
            self.store.save(conversation)
        except MemoryUnavailable as error:
            log.warning("%s; keeping %s in this process until Redis is back", error, conversation.id)
            self._unsaved.add(conversation.id)
            return
        self._unsaved.discard(conversation.id)
        self._save_unsaved()

    def _save_unsaved(self) -> None:
        """Redis answers again: save the conversations it missed meanwhile (kept in this process),
        even those whose call has ended and will never be saved by a turn of its own."""
        for conversation_id in list(self._unsaved):
            kept = self._recent.get(conversation_id)
            if kept is not None:
                try:
                    self.store.save(kept)
                except MemoryUnavailable:
                    return
                log.info("conversation memory (Redis) is back: saved %s", conversation_id)
            self._unsaved.discard(conversation_id)
