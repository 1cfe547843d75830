// A fake OpenAI-compatible chat API on loopback, for the end-to-end tests: the real server under
// test reaches it through OPENAI_BASE_URL (as the Rust tests' codexos_llm::testing::FakeProvider
// does). Each request is answered with `reply(body)`'s chunks as a `chat.completion.chunk` event
// stream, `pauseMs` apart, as a model producing tokens does.
import { createServer } from "node:http";

/**
 * `reply(body)` → `{ chunks: string[], pauseMs?: number, until?: Promise }`, where `body` is the
 * request's JSON text; with `until`, the first chunk goes out at once and the rest once it settles
 * (a test holds the model mid-answer for as long as it looks).
 * Returns `{ url, bodies(), closedEarly(), close() }`; `url` is the value for OPENAI_BASE_URL.
 */
export async function startFakeProvider(reply) {
  const bodies = [];
  let closedEarly = 0;
  const server = createServer(async (request, response) => {
    let body = "";
    for await (const piece of request) body += piece;
    if (request.method !== "POST" || !request.url.endsWith("/chat/completions")) {
      response.writeHead(404, { "content-type": "application/json" });
      response.end(JSON.stringify({ error: { message: `fake provider: no API at ${request.method} ${request.url}` } }));
      return;
    }
    bodies.push(body);
    const model = JSON.parse(body).model ?? "fake-model";
    const { chunks, pauseMs = 0, until } = reply(body);
    let open = true;
    response.on("close", () => {
      if (!response.writableFinished) {
        open = false;
        closedEarly += 1;
      }
    });
    const event = (delta, finish, usage = null) =>
      `data: ${JSON.stringify({
        id: "chatcmpl-fake",
        object: "chat.completion.chunk",
        created: 1_700_000_000,
        model,
        choices: delta ? [{ index: 0, delta, finish_reason: finish }] : [],
        usage,
      })}\n\n`;
    response.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
    response.write(event({ role: "assistant", content: "" }, null));
    for (const [i, text] of chunks.entries()) {
      if (i === 1 && until) await until;
      if (i > 0 && pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      if (!open) return;
      response.write(event({ content: text }, null));
    }
    response.write(event({}, "stop"));
    response.write(event(null, null, { prompt_tokens: 10, completion_tokens: chunks.length, total_tokens: 10 + chunks.length }));
    response.end("data: [DONE]\n\n");
  });
  await new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/v1`,
    bodies: () => [...bodies],
    closedEarly: () => closedEarly,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
