// Chat history per workspace: what the webview shows and what the server receives.
import type { ChatMessage, ChatResult, ChatSource } from "./protocol";

export interface ChatTurn {
  question: string;
  answer: string;
  model?: string;
  sources: ChatSource[];
  done: boolean;
  /** What the server said while the answer was on its way: a model loading, a fallback. */
  notes?: string[];
}

export class ChatHistory {
  constructor(public turns: ChatTurn[] = []) {}

  ask(question: string): ChatTurn {
    const turn: ChatTurn = { question, answer: "", sources: [], done: false };
    this.turns.push(turn);
    return turn;
  }

  /** Streamed text for the turn in progress. */
  stream(text: string): void {
    const turn = this.current();
    if (turn) turn.answer += text;
  }

  /** A status or warning line for the turn in progress (the same line is said once). */
  note(text: string): void {
    const turn = this.current();
    if (!turn || text.trim() === "") return;
    turn.notes = turn.notes ?? [];
    if (!turn.notes.includes(text)) turn.notes.push(text);
  }

  complete(result: ChatResult): void {
    const turn = this.current();
    if (!turn) return;
    turn.answer = result.answer;
    turn.model = result.model;
    turn.sources = result.sources;
    turn.done = true;
  }

  fail(message: string): void {
    const turn = this.current();
    if (!turn) return;
    turn.answer = `⚠ ${message}`;
    turn.done = true;
  }

  /** The messages for `codexos.chat`: every finished turn, then the new question. */
  messages(): ChatMessage[] {
    const messages: ChatMessage[] = [];
    for (const turn of this.turns) {
      messages.push({ role: "user", content: turn.question });
      if (turn.done) messages.push({ role: "assistant", content: turn.answer });
    }
    return messages;
  }

  private current(): ChatTurn | undefined {
    const last = this.turns[this.turns.length - 1];
    return last && !last.done ? last : undefined;
  }
}
